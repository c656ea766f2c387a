/**
 * The one function that turns an argument vector into a remote command line.
 *
 * ssh joins its arguments into a single string that the remote login shell parses again, so every
 * word must be quoted for a POSIX shell. Single quotes make every character literal except the single
 * quote itself, which is closed, escaped and reopened: `'it'\''s'`.
 */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function quoteShellWord(word: string): string {
  if (word.includes("\0")) {
    throw new Error("a remote argument cannot contain a NUL byte");
  }
  if (word !== "" && SAFE_WORD.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A command line for the remote shell in which each element of argv arrives as exactly one argument. */
export function remoteCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error("a remote command needs at least the program name");
  return argv.map(quoteShellWord).join(" ");
}
