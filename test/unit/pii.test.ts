import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detectPii, resolveOverlaps } from "../../src/guard/pii/detect.ts";
import { PlaceholderVault, restorePlaceholders } from "../../src/guard/pii/placeholder-vault.ts";
import { redactPii } from "../../src/guard/pii/redact.ts";
import { PlaceholderRestoreStream } from "../../src/guard/pii/restore-stream.ts";
import type { PiiFinding, PiiType } from "../../src/guard/pii/types.ts";
import { PII_NEGATIVES, PII_POSITIVES } from "../fixtures/pii-corpus.ts";
import { prcCheck } from "../fixtures/pii-corpus-values.ts";

/** `type:text` of every finding, for compact assertions. */
function found(text: string, types?: readonly PiiType[]): string[] {
  return detectPii(text, types).map((f) => `${f.type}:${f.text}`);
}

function prcId(body17: string): string {
  return body17 + prcCheck(body17);
}

describe("email", () => {
  it("finds practical addresses, also next to Chinese text and punctuation", () => {
    assert.deepEqual(found("Write to john.doe+news@mail.example.co.uk."), ["email:john.doe+news@mail.example.co.uk"]);
    assert.deepEqual(found("邮箱zhang_san@163.com，谢谢"), ["email:zhang_san@163.com"]);
    assert.deepEqual(found("<ADMIN@EXAMPLE.ORG>"), ["email:ADMIN@EXAMPLE.ORG"]);
    assert.deepEqual(found("13812345678@qq.com"), ["email:13812345678@qq.com"]);
  });

  it("rejects consecutive dots, a missing or one-letter TLD, and file names", () => {
    for (const text of ["a..b@example.com", "user@localhost", "name@domain.c", "icon@2x.png", "user@example..com", "user@-example.com", ".john@example.com"]) {
      assert.deepEqual(found(text, ["email"]), [], text);
    }
  });
});

describe("phone", () => {
  it("finds international numbers and mainland China mobiles and landlines", () => {
    assert.deepEqual(found("call +1 (415) 555-2671 or +44 20 7946 0958"), ["phone:+1 (415) 555-2671", "phone:+44 20 7946 0958"]);
    assert.deepEqual(found("+44 (0)20 7946 0958 and +49 30 12345678"), ["phone:+44 (0)20 7946 0958", "phone:+49 30 12345678"]);
    assert.deepEqual(found("电话13812345678，或138-1234-5678，或138 1234 5678"), ["phone:13812345678", "phone:138-1234-5678", "phone:138 1234 5678"]);
    assert.deepEqual(found("+86 138 1234 5678 / 0086-139-8765-4321 / (+86) 15912345678"), ["phone:+86 138 1234 5678", "phone:0086-139-8765-4321", "phone:(+86) 15912345678"]);
    assert.deepEqual(found("北京010-62345678，上海021-6234-5678，杭州(0571) 8888 8888"), ["phone:010-62345678", "phone:021-6234-5678", "phone:(0571) 8888 8888"]);
    assert.deepEqual(found("13812345678 13912345678"), ["phone:13812345678", "phone:13912345678"]);
  });

  it("rejects numbers inside longer numbers, dates, versions, order ids and decimals", () => {
    for (const text of [
      "138123456789", "2024-01-15", "ORD-20240115-123456", "v1.3.8123.4567", "13812345678.5", "x13812345678", "138-1234-567",
      "+1 415 555 267", "+1 (111) 555-2671", "+86 138 1234 567", "+999 123 4567", "+12.5%", "010-123456", "7611 0874 4579 8294",
      "12345678901234567890", "021-0234-5678",
    ]) {
      assert.deepEqual(found(text, ["phone"]), [], text);
    }
  });
});

describe("payment_card", () => {
  it("accepts network prefixes with Luhn, contiguous or grouped", () => {
    for (const card of ["4111111111111111", "5555 5555 5555 4444", "3782 822463 10005", "6011-1111-1111-1117", "3530111333300000", "3056 930902 5904", "6200000000000005", "2221000000000009"]) {
      assert.deepEqual(found(`卡号${card}。`), [`payment_card:${card}`], card);
    }
  });

  it("rejects a failing Luhn, an unknown prefix, a wrong length and mixed or longer groupings", () => {
    for (const text of ["4111111111111112", "1234567812345670", "3782822463100050", "4111 1111 1111 1111 2222", "4111-1111 1111-1111", "5555555555554444.5", "411111111111111"]) {
      assert.deepEqual(found(text, ["payment_card"]), [], text);
    }
  });
});

describe("iban", () => {
  it("accepts valid IBANs, compact or in groups of four", () => {
    for (const iban of ["DE89370400440532013000", "GB29 NWBK 6016 1331 9268 19", "FR14 2004 1010 0505 0001 3M02 606", "NL91ABNA0417164300", "BE68 5390 0754 7034", "CH9300762011623852957"]) {
      assert.deepEqual(found(`IBAN: ${iban}.`), [`iban:${iban}`], iban);
    }
  });

  it("stops at the country's length when an upper-case word follows the last full group", () => {
    assert.deepEqual(found("BE68 5390 0754 7034 THEN"), ["iban:BE68 5390 0754 7034"]);
  });

  it("rejects a failing MOD 97, a wrong length and an unknown country", () => {
    for (const text of ["DE89370400440532013001", "DE8937040044053201300", "GB29 NWBK 6016 1331 9268 1", "XX89370400440532013000", "de89370400440532013000"]) {
      assert.deepEqual(found(text, ["iban"]), [], text);
    }
  });
});

describe("us_ssn", () => {
  it("accepts AAA-GG-SSSS with dashes or spaces, and bare digits after a cue", () => {
    assert.deepEqual(found("SSN 123-45-6789 / 123 45 6789"), ["us_ssn:123-45-6789", "us_ssn:123 45 6789"]);
    assert.deepEqual(found("my social security number is 234567890"), ["us_ssn:234567890"]);
    assert.deepEqual(found("SSN#078051121"), ["us_ssn:078051121"]);
  });

  it("rejects areas 000, 666 and 9xx, group 00, serial 0000, mixed separators, and bare digits without a cue", () => {
    for (const text of ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000", "123-45 6789", "order 234567890", "SSN is not 23456789"]) {
      assert.deepEqual(found(text, ["us_ssn"]), [], text);
    }
    assert.deepEqual(found("SSN: the number you asked about is 234567890", ["us_ssn"]), [], "cue more than 20 characters away");
  });
});

describe("prc_id", () => {
  it("accepts 18-character IDs with a valid region, date and MOD 11-2 check, also X, x and 6-8-4 groups", () => {
    const id = prcId("11010519491231002");
    assert.equal(id.slice(-1), "X");
    assert.deepEqual(found(`身份证${id}，`), [`prc_id:${id}`]);
    assert.deepEqual(found(`id ${id.toLowerCase()}`), [`prc_id:${id.toLowerCase()}`]);
    const other = prcId("44030519900307123");
    const grouped = `${other.slice(0, 6)} ${other.slice(6, 14)} ${other.slice(14)}`;
    assert.deepEqual(found(`证件号码 ${grouped}`), [`prc_id:${grouped}`]);
  });

  it("rejects a wrong check character, impossible or future dates and unknown regions", () => {
    const id = prcId("11010519900307123");
    const wrong = id.slice(0, 17) + (id.endsWith("1") ? "2" : "1");
    for (const text of [wrong, prcId("11010519900230123"), prcId("11010519901301123"), prcId("11010520990101123"), prcId("99010119900307123"), prcId("11010518990307123"), id.slice(0, 17)]) {
      assert.deepEqual(found(text), [], text);
    }
  });

  it("accepts a legacy 15-digit ID only after an ID cue", () => {
    assert.deepEqual(found("旧身份证号440305700609599"), ["prc_id:440305700609599"]);
    assert.deepEqual(found("快递单号440305700609599"), []);
  });
});

describe("ip_address", () => {
  it("finds IPv4 and IPv6, compressed and IPv4-suffixed", () => {
    assert.deepEqual(found("from 192.168.1.10:8080, 10.0.0.1/8 and 0.0.0.0"), ["ip_address:192.168.1.10", "ip_address:10.0.0.1", "ip_address:0.0.0.0"]);
    assert.deepEqual(found("[2001:db8::1]:443 fe80::1ff:fe23:4567:890a ::ffff:192.0.2.128 ::1."), ["ip_address:2001:db8::1", "ip_address:fe80::1ff:fe23:4567:890a", "ip_address:::ffff:192.0.2.128", "ip_address:::1"]);
  });

  it("rejects out-of-range octets, leading zeros, longer dotted numbers, times, MACs and code", () => {
    for (const text of ["256.1.1.1", "192.168.01.1", "1.2.3.4.5", "v1.2.3.4", "10.0.0", "12:30:45", "00:1A:2B:3C:4D:5E", "2001:db8::1::2", "std::vector", "cafe::beef", "16:9", "1:2:3:4:5:6:7:8:9"]) {
      assert.deepEqual(found(text, ["ip_address"]), [], text);
    }
  });
});

describe("secret", () => {
  const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----";

  it("finds prefixed API keys", () => {
    for (const key of [
      "sk-AbCdEf1234567890GhIjKlMnOpQrStUvWxYz0123456789ab",
      "sk-proj-AbCdEf1234567890GhIj_KlMnOp-QrStUvWx",
      "sk-admin-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe",
      "AKIAIOSFODNN7EXAMPLE",
      "ASIAY34FZKBOKMUTVV7A",
      "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
      "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
      "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
      "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    ]) {
      assert.deepEqual(found(`key: ${key}, ok`), [`secret:${key}`], key);
    }
  });

  it("finds an AWS secret access key only next to a cue", () => {
    const key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    assert.deepEqual(found(`aws_secret_access_key = ${key}`), [`secret:${key}`]);
    assert.deepEqual(found(`AWS_SECRET_ACCESS_KEY=${key}`), [`secret:${key}`]);
    assert.deepEqual(found(`value ${key}`), []);
    assert.deepEqual(found("the secret fix is commit 3f2a9c1e4b5d6f708192a3b4c5d6e7f801234567"), [], "a git SHA is not a key");
  });

  it("finds PEM private key blocks, JSON-escaped ones, and truncated ones", () => {
    assert.deepEqual(found(`key:\n${pem}\nthanks`), [`secret:${pem}`]);
    const escaped = JSON.stringify(pem).slice(1, -1);
    assert.deepEqual(found(`{"private_key": "${escaped}"}`), [`secret:${escaped}`]);
    const truncated = pem.split("\n").slice(0, 3).join("\n");
    assert.deepEqual(found(`${truncated}\n`), [`secret:${truncated}`]);
  });

  it("rejects key-like words, placeholders, public material and format descriptions", () => {
    for (const text of [
      "sk-ii cosmetics", "sk-learn-compatible-estimator-api", "sk-2024-annual-report-final-v2", "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "AKIAXXXXXXXXXXXX", "akiaiosfodnn7example", "ghp_short", "xoxb-placeholder-token-here", "AIzaSy-short",
      "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
      "files start with -----BEGIN PRIVATE KEY----- and end with -----END PRIVATE KEY-----",
    ]) {
      assert.deepEqual(found(text, ["secret"]), [], text);
    }
  });
});

describe("detectPii", () => {
  it("resolves overlaps by type priority, then by length", () => {
    assert.deepEqual(found("sk-AbCdEf1234567890GhIjKl@example.com"), ["secret:sk-AbCdEf1234567890GhIjKl"]);
    const f = (type: PiiType, start: number, end: number): PiiFinding => ({ type, start, end, text: "x".repeat(end - start) });
    const kept = resolveOverlaps([f("phone", 0, 11), f("prc_id", 5, 23), f("ip_address", 30, 40), f("ip_address", 25, 45), f("email", 50, 60)]);
    assert.deepEqual(kept.map((k) => `${k.type}@${k.start}`), ["prc_id@5", "ip_address@25", "email@50"]);
  });

  it("restricts detection to the requested types and sorts findings by start", () => {
    const text = "a@b.io 13812345678 192.168.0.1";
    assert.deepEqual(found(text, ["ip_address", "email"]), ["email:a@b.io", "ip_address:192.168.0.1"]);
    const all = detectPii(text);
    assert.deepEqual(all.map((x) => text.slice(x.start, x.end)), ["a@b.io", "13812345678", "192.168.0.1"]);
  });
});

describe("redactPii", () => {
  const text = "Mail a@b.io or c@d.io, call 13812345678; again a@b.io and card 4111111111111111.";

  it("numbers placeholders per type in order of appearance, the same value keeping its placeholder", () => {
    const r = redactPii(text, detectPii(text));
    assert.equal(r.text, "Mail [EMAIL_1] or [EMAIL_2], call [PHONE_1]; again [EMAIL_1] and card [PAYMENT_CARD_1].");
    assert.deepEqual([...r.placeholders], [["[EMAIL_1]", "a@b.io"], ["[EMAIL_2]", "c@d.io"], ["[PHONE_1]", "13812345678"], ["[PAYMENT_CARD_1]", "4111111111111111"]]);
    assert.equal(restorePlaceholders(r.text, r.placeholders), text);
  });

  it("keeps no values when restore is false", () => {
    const r = redactPii(text, detectPii(text), { restore: false });
    assert.equal(r.placeholders.size, 0);
    assert.ok(r.text.includes("[EMAIL_2]"));
  });

  it("rejects overlapping findings", () => {
    const f: PiiFinding[] = [{ type: "email", start: 0, end: 5, text: "" }, { type: "phone", start: 3, end: 8, text: "" }];
    assert.throws(() => redactPii("0123456789", f), /overlap/);
  });
});

describe("PlaceholderVault", () => {
  it("keeps numbering and values across the texts of one request, and restores the model's echo", () => {
    const vault = new PlaceholderVault();
    const first = "I am a@b.io, phone 13812345678.";
    const second = "My colleague is c@d.io; reply to a@b.io.";
    const r1 = redactPii(first, detectPii(first), { vault });
    const r2 = redactPii(second, detectPii(second), { vault });
    assert.equal(r1.text, "I am [EMAIL_1], phone [PHONE_1].");
    assert.equal(r2.text, "My colleague is [EMAIL_2]; reply to [EMAIL_1].");
    assert.equal(vault.size, 3);
    assert.equal(vault.valueOf("[EMAIL_2]"), "c@d.io");
    const answer = "Sure: I will write to [EMAIL_1] and [EMAIL_2], call [PHONE_1], and skip [EMAIL_9] and [NAME_1].";
    assert.equal(vault.restore(answer), "Sure: I will write to a@b.io and c@d.io, call 13812345678, and skip [EMAIL_9] and [NAME_1].");
    assert.equal(new PlaceholderVault().restore(answer), answer, "another request's vault restores nothing");
  });

  it("restores placeholders split across streamed chunks", () => {
    const vault = new PlaceholderVault();
    vault.placeholderFor("email", "a@b.io");
    vault.placeholderFor("payment_card", "4111111111111111");
    const answer = "Done [EMAIL_1], charged [PAYMENT_CARD_1] [x] [EMAIL_";
    for (let at = 0; at <= answer.length; at++) {
      const stream = new PlaceholderRestoreStream(vault);
      const out = stream.push(answer.slice(0, at)) + stream.push(answer.slice(at)) + stream.end();
      assert.equal(out, "Done a@b.io, charged 4111111111111111 [x] [EMAIL_", `split at ${at}`);
    }
  });
});

describe("scan time", () => {
  it("measures an ~8,000-character English/Chinese text (median of 50 runs, printed only)", () => {
    const prose = "The quarterly review covers revenue, churn and hiring plans for the next two quarters. 我们将在下周讨论预算和招聘计划，请大家提前准备材料。 ";
    let text = "";
    for (let i = 0; text.length < 8000; i++) text += prose + (i % 3 === 0 ? (PII_POSITIVES[i % PII_POSITIVES.length] as { text: string }).text : PII_NEGATIVES[i % PII_NEGATIVES.length]) + " ";
    text = text.slice(0, 8000);
    const times: number[] = [];
    let findings = 0;
    for (let i = 0; i < 55; i++) {
      const t0 = performance.now();
      findings = detectPii(text).length;
      if (i >= 5) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(`detectPii on ${text.length} chars (${findings} findings): median ${(times[25] as number).toFixed(3)} ms, max ${(times[49] as number).toFixed(3)} ms`);
  });
});
