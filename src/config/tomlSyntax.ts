// One line for a TOML syntax error, naming its line and column. smol-toml
// reports a quoted value left open at the end of its line as "control
// characters are not allowed in strings" (the line break is the control
// character); that case is named for what it is, at the column where the
// string opens.
import type { TomlError } from "smol-toml";

export function tomlSyntaxMessage(err: TomlError, text: string): string {
  const reason = (err.message.split("\n")[0] ?? "").replace(/^Invalid TOML document: /, "");
  const line = (text.split("\n")[err.line - 1] ?? "").replace(/\r$/, "");
  const at = (column: number): string => `TOML syntax error at line ${err.line}, column ${column}`;
  if (reason === "unfinished string") {
    return `${at(err.column)}: unterminated string (the file ends before its closing quote)`;
  }
  // smol-toml's column is 1-based; past the line's last character is its line break.
  const endOfLine = err.column > line.length;
  if (reason.startsWith("control characters are not allowed in strings") && endOfLine) {
    const opened = openStringColumn(line) ?? err.column;
    return `${at(opened)}: unterminated string (the line ends before its closing quote; a string over several lines needs """ or ''')`;
  }
  return `${at(err.column)}: ${reason}`;
}

/** The 1-based column of the quote that opens a string still open at the end of `line`, if any. */
function openStringColumn(line: string): number | null {
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === null) {
      if (c === "#") break; // a comment: quotes in it open nothing
      if (c === '"' || c === "'") {
        quote = c;
        start = i;
      }
    } else if (quote === '"' && c === "\\") {
      i++; // an escape: the next character cannot close the string
    } else if (c === quote) {
      quote = null;
    }
  }
  return quote === null ? null : start + 1;
}
