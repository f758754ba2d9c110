import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExtractionError, extractText } from "../../src/retrieval/extract-text.ts";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/**
 * A minimal valid PDF, written out by hand: one page per string, Helvetica text. With `encrypted`, the
 * trailer names a standard security handler whose user password is not empty, as a password-protected
 * file has, so it cannot be opened without the password.
 */
function buildPdf(pages: string[], options: { encrypted?: boolean } = {}): Uint8Array {
  const objects: string[] = [];
  objects[1] = "<< /Type /Catalog /Pages 2 0 R >>";
  objects[2] = `<< /Type /Pages /Kids [${pages.map((_, i) => `${4 + 2 * i} 0 R`).join(" ")}] /Count ${pages.length} >>`;
  objects[3] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>";
  pages.forEach((text, i) => {
    const lines = text.split("\n").map((line) => `(${line.replace(/[\\()]/g, (c) => `\\${c}`)}) Tj 0 -16 Td`);
    const stream = `BT /F1 12 Tf 72 720 Td ${lines.join(" ")} ET`;
    objects[4 + 2 * i] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * i} 0 R >>`;
    objects[5 + 2 * i] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  });
  let trailer = "";
  if (options.encrypted === true) {
    const id = objects.length;
    objects[id] = `<< /Filter /Standard /V 1 /R 2 /O <${"ab".repeat(32)}> /U <${"cd".repeat(32)}> /P -44 >>`;
    trailer = ` /Encrypt ${id} 0 R /ID [<${"01".repeat(16)}> <${"01".repeat(16)}>]`;
  }
  let pdf = "%PDF-1.4\n";
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = pdf.length;
    pdf += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) pdf += `${String(offsets[id]).padStart(10, "0")} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length} /Root 1 0 R${trailer} >>\nstartxref\n${xref}\n%%EOF\n`;
  return utf8(pdf);
}

async function rejectsWith(promise: Promise<string>, code: ExtractionError["code"]): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ExtractionError, `expected an ExtractionError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe("extractText", () => {
  it("reads plain text and source code as they are, by extension in any case", async () => {
    assert.equal(await extractText(utf8("# Title\n\nSome *markdown*."), "notes.md"), "# Title\n\nSome *markdown*.");
    assert.equal(await extractText(utf8("def f():\n    return 1\n"), "script.PY"), "def f():\n    return 1\n");
    for (const name of ["a.txt", "a.markdown", "a.ts", "a.java", "a.c", "a.cpp", "a.h", "a.go", "a.rs", "a.rb", "a.php", "a.sh", "a.css", "a.tex", "a.xml", "a.yaml", "a.yml", "Dockerfile"]) {
      assert.equal(await extractText(utf8("content <b>&amp;</b>"), name), "content <b>&amp;</b>", name);
    }
  });

  it("drops a UTF-8 BOM, normalizes line breaks, reads UTF-16 with a BOM, and allows empty text", async () => {
    assert.equal(await extractText(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8("café\r\nnaïve\rend")]), "a.txt"), "café\nnaïve\nend");
    assert.equal(await extractText(new Uint8Array([0xff, 0xfe, 0x68, 0x00, 0xe9, 0x00]), "a.txt"), "hé");
    assert.equal(await extractText(new Uint8Array([0xfe, 0xff, 0x00, 0x68, 0x00, 0xe9]), "a.txt"), "hé");
    assert.equal(await extractText(new Uint8Array(), "empty.txt"), "");
  });

  it("refuses invalid UTF-8 as invalid_file, and binary content or unknown types as unsupported_file", async () => {
    await rejectsWith(extractText(new Uint8Array([0x61, 0xc3, 0x28, 0x62]), "bad.txt"), "invalid_file");
    await rejectsWith(extractText(new Uint8Array([0xed, 0xa0, 0x80]), "surrogate.md"), "invalid_file");
    await rejectsWith(extractText(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]), "image.txt"), "unsupported_file");
    await rejectsWith(extractText(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]), "image.png"), "unsupported_file");
    await rejectsWith(extractText(utf8("PK\x03\x04"), "slides.pptx"), "unsupported_file");
    await rejectsWith(extractText(utf8("hello"), "no-extension"), "unsupported_file");
    await rejectsWith(extractText(utf8("hello"), "archive.tar.gz"), "unsupported_file");
  });

  it("renders JSON as readable key: value lines, and refuses invalid JSON", async () => {
    const json = JSON.stringify({ product: "Widget Pro", price: 19.5, inStock: true, tags: ["kitchen", "steel"], size: { width: 10, height: null }, variants: [{ color: "red" }] });
    assert.equal(
      await extractText(utf8(json), "catalog.json"),
      ["product: Widget Pro", "price: 19.5", "inStock: true", "tags:", "  - kitchen", "  - steel", "size:", "  width: 10", "  height: null", "variants:", "  -", "    color: red"].join("\n"),
    );
    assert.equal(await extractText(utf8('"just a string"'), "a.json"), "just a string");
    await rejectsWith(extractText(utf8('{"a": 1,'), "broken.json"), "invalid_file");
    await rejectsWith(extractText(utf8(""), "empty.json"), "invalid_file");
    // Deep nesting neither overflows the stack nor indents without bound.
    const deep = await extractText(utf8(`${"[".repeat(5000)}1${"]".repeat(5000)}`), "deep.json");
    assert.ok(deep.endsWith("- 1") && deep.length < 5000 * 40);
  });

  it("extracts the visible text of HTML: no scripts or styles, entities decoded, one line per block", async () => {
    const html = `<!DOCTYPE html>
<html><head><title>Returns &amp; Refunds</title><meta charset="utf-8">
<style>p { color: red; }</style><script>var secret = "<p>hidden</p>";</script></head>
<body>
  <h1>Returns&nbsp;policy</h1>
  <p>Items   can be
     returned <b>with</b>in 30&nbsp;days &lt;unused&gt; &#8212; caf&eacute; &euro;5.</p>
  <ul><li>One</li><li>Two</li></ul>
  Line<br>Next<br/>
  <table><tr><th>Size</th><td>Price</td></tr><tr><td>S</td><td>10</td></tr></table>
  <pre>  indented
    code</pre>
  <noscript>Enable JavaScript</noscript><template><p>template</p></template>
  <div>End</div>
</body></html>`;
    assert.equal(
      await extractText(utf8(html), "page.HTM"),
      ["Returns & Refunds", "Returns policy", "Items can be returned within 30 days <unused> — café €5.", "One", "Two", "Line", "Next", "Size Price", "S 10", "  indented", "    code", "End"].join("\n"),
    );
    assert.equal(await extractText(utf8("<p>unclosed <b>tags"), "a.html"), "unclosed tags");
  });

  it("reads CSV rows as lines of cells joined by ', ', with quoted commas, quotes and newlines", async () => {
    const csv = 'name,role,quote\r\n"Smith, Jane",Engineer,"She said ""hi"""\r\nLee,,"two\nlines"\r\n\r\nshort\r\n';
    assert.equal(await extractText(utf8(csv), "people.csv"), 'name, role, quote\nSmith, Jane, Engineer, She said "hi"\nLee, , two\nlines\nshort');
    assert.equal(await extractText(utf8("a\tb\n1\t2"), "table.tsv"), "a, b\n1, 2");
    await rejectsWith(extractText(utf8('a,b\n"unterminated,1\n'), "broken.csv"), "invalid_file");
    await rejectsWith(extractText(utf8('a,b\nx"y,1\n'), "broken.csv"), "invalid_file");
  });

  it("extracts the text of every page of a PDF", async () => {
    const pdf = buildPdf(["Refund policy (page one)\nItems can be returned within 30 days.", "Second page: shipping", ""]);
    const text = await extractText(pdf, "Policy.PDF");
    assert.match(text, /^Refund policy \(page one\)\s+Items can be returned within 30 days\.\s+Second page: shipping$/);
    assert.ok(text.includes("\n\nSecond page"), "pages are separated by a blank line");
    // The caller's buffer is left usable (pdf.js detaches the buffers it is given).
    assert.equal(pdf.byteLength > 0 && pdf[0], 0x25);
    assert.equal(await extractText(buildPdf([""]), "blank.pdf"), "");
  });

  it("refuses broken and encrypted PDFs as invalid_file", async () => {
    await rejectsWith(extractText(utf8("this is not a PDF"), "fake.pdf"), "invalid_file");
    await rejectsWith(extractText(new Uint8Array(), "empty.pdf"), "invalid_file");
    await rejectsWith(extractText(buildPdf(["Some text"]).slice(0, 120), "truncated.pdf"), "invalid_file");
    await rejectsWith(extractText(buildPdf(["Secret"], { encrypted: true }), "locked.pdf"), "invalid_file");
  });
});
