import { extname } from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { Parser as HtmlParser } from "htmlparser2";
import { extractText as extractPdfText, getDocumentProxy } from "unpdf";

/** Why a file's text could not be extracted: a type this server cannot read, or a file of a readable type that is broken. */
export type ExtractionErrorCode = "unsupported_file" | "invalid_file";

export class ExtractionError extends Error {
  readonly code: ExtractionErrorCode;

  constructor(code: ExtractionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ExtractionError";
    this.code = code;
  }
}

/** Extensions read as plain text: prose, markup and config formats, and source code (OpenAI's list and more). */
const PLAIN_TEXT = new Set(
  (
    "txt text md markdown mdx rst adoc asciidoc org tex bib log " +
    "xml yaml yml toml ini cfg conf properties env " +
    "py pyi js mjs cjs jsx ts mts cts tsx java kt kts scala groovy gradle c cc cpp cxx h hh hpp hxx cs go rs rb " +
    "php pl pm swift m mm r lua dart ex exs erl hs clj fs fsx vb jl nim zig sol " +
    "sh bash zsh fish ps1 bat cmd sql graphql proto css scss sass less vue svelte astro " +
    "dockerfile makefile cmake tf hcl diff patch"
  ).split(" "),
);

/**
 * The text of an uploaded file, by its extension (case-insensitive): plain text and source code as they are;
 * `.json` as indented `key: value` lines; `.html`/`.htm` as their visible text; `.csv`/`.tsv` as one line
 * per row with cells joined by ", "; `.pdf` as the text of its pages. Text files must be UTF-8 (a BOM is
 * dropped; UTF-16 with a BOM is read too), and line breaks come out as "\n". Throws an
 * {@link ExtractionError}: `unsupported_file` for any other extension or binary content in a text type,
 * `invalid_file` for a file of a readable type that is broken (invalid UTF-8 or JSON, unbalanced CSV
 * quotes, an unreadable or encrypted PDF). A file with no text gives "".
 */
export async function extractText(bytes: Uint8Array, filename: string): Promise<string> {
  const extension = fileExtension(filename);
  if (extension === "pdf") return extractPdf(bytes, filename);
  if (extension === "json") return renderJson(decodeText(bytes, filename), filename);
  if (extension === "html" || extension === "htm" || extension === "xhtml") return htmlToText(decodeText(bytes, filename));
  if (extension === "csv" || extension === "tsv") return csvToText(decodeText(bytes, filename), extension === "tsv" ? "\t" : ",", filename);
  if (PLAIN_TEXT.has(extension)) return decodeText(bytes, filename);
  throw new ExtractionError("unsupported_file", `Files of type '${extension === "" ? filename : `.${extension}`}' are not supported.`);
}

/** The lowercase extension without its dot; for extensionless names such as "Makefile", the name itself. */
function fileExtension(filename: string): string {
  const base = filename.slice(Math.max(filename.lastIndexOf("/"), filename.lastIndexOf("\\")) + 1).toLowerCase();
  const extension = extname(base);
  if (extension.length > 1) return extension.slice(1);
  return base === "dockerfile" || base === "makefile" ? base : "";
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf16le = new TextDecoder("utf-16le", { fatal: true });
const utf16be = new TextDecoder("utf-16be", { fatal: true });

/** UTF-8 text (its BOM dropped), or UTF-16 text that starts with a BOM; line breaks normalized to "\n". */
function decodeText(bytes: Uint8Array, filename: string): string {
  let decoder = utf8;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) decoder = utf16le;
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) decoder = utf16be;
  else if (bytes.includes(0)) throw new ExtractionError("unsupported_file", `The file '${filename}' holds binary data, not text.`);
  let text: string;
  try {
    text = decoder.decode(bytes); // TextDecoder drops the BOM
  } catch (error) {
    throw new ExtractionError("invalid_file", `The file '${filename}' is not valid ${decoder.encoding.toUpperCase()} text.`, { cause: error });
  }
  if (decoder !== utf8 && text.includes("\0")) throw new ExtractionError("unsupported_file", `The file '${filename}' holds binary data, not text.`);
  return text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
}

async function extractPdf(bytes: Uint8Array, filename: string): Promise<string> {
  let pages: string[];
  try {
    // pdf.js detaches the buffer it is given, so it gets a copy; verbosity 0 keeps its warnings about
    // damaged files it can still read ("Indexing all PDF objects") off the console.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 });
    try {
      pages = (await extractPdfText(pdf, { mergePages: false })).text;
    } finally {
      await pdf.loadingTask.destroy();
    }
  } catch (error) {
    const reason = error instanceof Error && error.name === "PasswordException" ? "is encrypted" : "could not be read as a PDF";
    throw new ExtractionError("invalid_file", `The file '${filename}' ${reason}.`, { cause: error });
  }
  return pages
    .map((page) => page.replace(/\r\n?/g, "\n").trim())
    .filter((page) => page !== "")
    .join("\n\n");
}

/** Deeper levels are not indented further, so a deeply nested document cannot blow up the text. */
const MAX_JSON_INDENT = 32;

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A JSON document as indented lines, YAML-like: `key: value` for scalars, `key:` above nested values and
 * `- ` before array items, so keyword search finds both keys and values without JSON's punctuation.
 */
function renderJson(text: string, filename: string): string {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new ExtractionError("invalid_file", `The file '${filename}' is not valid JSON.`, { cause: error });
  }
  const lines: string[] = [];
  // An explicit stack: a hostile document may nest deeper than the call stack allows.
  const stack: { value: JsonValue; indent: string; label: string }[] = [{ value, indent: "", label: "" }];
  while (stack.length > 0) {
    const { value: node, indent, label } = stack.pop() as { value: JsonValue; indent: string; label: string };
    if (node === null || typeof node !== "object") {
      lines.push(`${indent}${label}${String(node)}`);
      continue;
    }
    const entries: [string, JsonValue][] = Array.isArray(node) ? node.map((item) => ["- ", item]) : Object.entries(node).map(([k, v]) => [`${k}: `, v]);
    let childIndent = indent;
    if (label !== "") {
      lines.push(`${indent}${label.trimEnd()}`);
      if (indent.length < MAX_JSON_INDENT) childIndent = `${indent}  `;
    }
    for (let i = entries.length - 1; i >= 0; i--) {
      const [childLabel, child] = entries[i] as [string, JsonValue];
      stack.push({ value: child, indent: childIndent, label: childLabel });
    }
  }
  return lines.join("\n");
}

/** Elements whose content is never shown. */
const HIDDEN = new Set(["script", "style", "noscript", "template", "iframe", "object", "canvas", "svg", "math"]);
/** Elements that start and end a line of text. */
const BLOCK = new Set(
  (
    "address article aside blockquote body br caption center dd details dialog dir div dl dt fieldset figcaption figure " +
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend li main menu nav ol option p pre section summary " +
    "table tbody tfoot thead title tr ul"
  ).split(" "),
);
/** Elements whose content is set apart from its neighbours on the same line. */
const CELL = new Set(["td", "th"]);

/**
 * The visible text of an HTML document: entities decoded, scripts, styles and other hidden content left
 * out, whitespace collapsed as a browser would (kept inside <pre>), and one line per block element (the
 * <title> among them, since it names the page).
 */
function htmlToText(html: string): string {
  const lines: string[] = [];
  let line = "";
  let hidden = 0;
  let pre = 0;
  const endLine = (): void => {
    const text = pre > 0 ? line.trimEnd() : line.trim();
    if (text !== "") lines.push(text);
    line = "";
  };
  const parser = new HtmlParser(
    {
      onopentag(name) {
        if (HIDDEN.has(name)) hidden++;
        if (BLOCK.has(name)) endLine();
        else if (CELL.has(name) && line !== "" && !line.endsWith(" ")) line += " ";
        if (name === "pre") pre++;
      },
      onclosetag(name) {
        if (HIDDEN.has(name) && hidden > 0) hidden--;
        if (BLOCK.has(name)) endLine();
        if (name === "pre" && pre > 0) pre--;
      },
      ontext(data) {
        if (hidden > 0) return;
        if (pre === 0) {
          const collapsed = data.replace(/\s+/g, " ");
          line += line.endsWith(" ") && collapsed.startsWith(" ") ? collapsed.slice(1) : collapsed;
          return;
        }
        const parts = data.replace(/\r\n?/g, "\n").split("\n");
        line += parts[0] as string;
        for (let i = 1; i < parts.length; i++) {
          endLine();
          line = parts[i] as string;
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(html);
  parser.end();
  endLine();
  return lines.join("\n");
}

/** CSV (or TSV) as one line per row, its cells joined by ", "; rows may differ in length. */
function csvToText(text: string, delimiter: string, filename: string): string {
  let rows: string[][];
  try {
    rows = parseCsv(text, { delimiter, relax_column_count: true, skip_empty_lines: true });
  } catch (error) {
    throw new ExtractionError("invalid_file", `The file '${filename}' is not valid ${delimiter === "\t" ? "TSV" : "CSV"}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return rows.map((cells) => cells.map((cell) => cell.trim()).join(", ")).join("\n");
}
