/** The line prefix that marks a case result in a remote runtime's stdout (anything else is log noise). */
export const RESULT_PREFIX = "@@rgcs-case ";
