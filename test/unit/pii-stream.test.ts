import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detectPii } from "../../src/guard/pii/detect.ts";
import { redactPii } from "../../src/guard/pii/redact.ts";
import { PiiStreamScanner, type StreamFinding } from "../../src/guard/pii/stream-scanner.ts";
import { random } from "../helpers/random.ts";
import { PII_NEGATIVES, PII_POSITIVES } from "../fixtures/pii-corpus.ts";

/** Texts with every type, entities at the very start and end, keys and blocks that chunks can cut anywhere. */
const TEXTS: readonly string[] = [
  "john.doe@example.com wrote: call +1 (415) 555-2671 or 电话13812345678, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00.",
  "SSN 123-45-6789; ssn: 234567890. 身份证11010519491231002X，旧身份证号440305700609599 from 192.168.1.10 and [2001:db8::1]:443 at 12:30:45",
  "export OPENAI_API_KEY=sk-proj-AbCdEf1234567890GhIjKlMnOpQrSt_uv-WX and AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY----- then ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 and xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
  "Dates 2024-01-15, order ORD-20240115-123456, v1.2.3.4.5, sk-ii cosmetics, +86 138 1234 5678, 0086-139-8765-4321 end 13912345678",
  "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q and a truncated key:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
  "email at end: a.b@c.io",
];

function oneShot(text: string): { emit: string; findings: StreamFinding[] } {
  const findings = detectPii(text);
  const { text: emit } = redactPii(text, findings);
  return { emit, findings };
}

function streamed(chunks: readonly string[]): { emit: string; findings: StreamFinding[] } {
  const scanner = new PiiStreamScanner();
  let emit = "";
  const findings: StreamFinding[] = [];
  for (const chunk of chunks) {
    const r = scanner.push(chunk);
    emit += r.emit;
    findings.push(...r.findings);
  }
  const r = scanner.end();
  emit += r.emit;
  findings.push(...r.findings);
  return { emit, findings: findings.map(({ type, start, end, text }) => ({ type, start, end, text })) };
}

function randomSplit(text: string, next: () => number, maxChunk: number): string[] {
  const chunks: string[] = [];
  for (let at = 0; at < text.length; ) {
    const n = 1 + Math.floor(next() * maxChunk);
    chunks.push(text.slice(at, at + n));
    at += n;
  }
  return chunks;
}

describe("PiiStreamScanner", () => {
  it("gives the one-shot result for a split at every single offset", () => {
    for (const text of TEXTS) {
      const expected = oneShot(text);
      assert.ok(expected.findings.length > 0);
      for (let at = 0; at <= text.length; at++) {
        assert.deepEqual(streamed([text.slice(0, at), text.slice(at)]), expected, `split at ${at} of ${JSON.stringify(text)}`);
      }
    }
  });

  it("gives the one-shot result for random multi-chunk splits, one character at a time included", () => {
    const next = random(7);
    for (const text of TEXTS) {
      const expected = oneShot(text);
      assert.deepEqual(streamed([...text]), expected);
      for (let round = 0; round < 40; round++) assert.deepEqual(streamed(randomSplit(text, next, 1 + (round % 12))), expected);
    }
  });

  it("gives the one-shot result on the whole corpus in small random chunks", () => {
    const next = random(11);
    for (const text of [...PII_POSITIVES.map((c) => c.text), ...PII_NEGATIVES]) {
      assert.deepEqual(streamed(randomSplit(text, next, 6)), oneShot(text), JSON.stringify(text));
    }
    const all = [...PII_POSITIVES.map((c) => c.text), ...PII_NEGATIVES].join("\n");
    assert.deepEqual(streamed(randomSplit(all, next, 9)), oneShot(all));
  });

  it("holds back nothing of plain prose that ends in a space or punctuation, and at most the last word otherwise", () => {
    const scanner = new PiiStreamScanner();
    const prose = "The quarterly review covers revenue, churn and hiring plans. 我们将在下周讨论预算和招聘计划。 ";
    const r = scanner.push(prose);
    assert.equal(scanner.heldBack, 0);
    assert.equal(r.emit, prose);
    for (const token of ["Thanks", " for", " the", " update", "!", "\n"]) {
      scanner.push(token);
      assert.equal(scanner.heldBack, /[A-Za-z]$/.test(token) ? token.trim().length : 0, JSON.stringify(token));
    }
    assert.equal(new PiiStreamScanner().push("全部是中文，没有数字。").emit, "全部是中文，没有数字。");
  });

  it("holds back an unfinished key, number or private key block until it completes", () => {
    const scanner = new PiiStreamScanner();
    assert.equal(scanner.push("… my key is sk-pro").emit, "… my key is ");
    assert.equal(scanner.heldBack, "sk-pro".length);
    assert.equal(scanner.push("j-AbCdEf1234567890GhIj").emit, "");
    const done = scanner.push("KlMn please!");
    assert.equal(done.emit, "[SECRET_1] please!");
    assert.deepEqual(done.findings.map((f) => [f.type, f.start, f.text]), [["secret", 12, "sk-proj-AbCdEf1234567890GhIjKlMn"]]);

    const phone = new PiiStreamScanner();
    assert.equal(phone.push("call 138").emit, "call ");
    assert.equal(phone.push(" 1234 5678").emit, "");
    assert.equal(phone.push(" now!").emit, "[PHONE_1] now!");

    const pem = new PiiStreamScanner();
    assert.equal(pem.push("key: -----BEGIN RSA PRIV").emit, "key: ");
    pem.push("ATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n");
    assert.ok(pem.heldBack > 60);
    assert.equal(pem.push("-----END RSA PRIVATE KEY-----\nbye!").emit, "[SECRET_1]\nbye!");
  });

  it("reports findings it does not redact, with offsets in the whole stream, and shares the vault", () => {
    const scanner = new PiiStreamScanner({ redact: (f) => f.type !== "ip_address" });
    let emit = "";
    const findings: StreamFinding[] = [];
    for (const chunk of ["from 10.0.", "0.1 user a@b", ".io x"]) {
      const r = scanner.push(chunk);
      emit += r.emit;
      findings.push(...r.findings);
    }
    emit += scanner.end().emit;
    assert.equal(emit, "from 10.0.0.1 user [EMAIL_1] x");
    assert.deepEqual(findings, [
      { type: "ip_address", start: 5, end: 13, text: "10.0.0.1" },
      { type: "email", start: 19, end: 25, text: "a@b.io", placeholder: "[EMAIL_1]" },
    ]);
    assert.equal(scanner.vault.restore(emit), "from 10.0.0.1 user a@b.io x");
    assert.throws(() => scanner.push("more"), /after end/);
  });
});
