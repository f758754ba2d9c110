/**
 * PII detection and redaction for guardrails: validated detectors (checksums, date and range checks,
 * not just regexes) for e-mail, phone, payment card, IBAN, US SSN, PRC ID, IP address and secrets;
 * typed placeholders that can be restored within one request; and a stream scanner for model output.
 */
export { detectPii, resolveOverlaps } from "./detect.ts";
export type { PiiDetector } from "./detector.ts";
export { DETECTORS, MAX_LOOKBACK, detectorsFor } from "./detectors.ts";
export { PLACEHOLDER, PlaceholderVault, restorePlaceholders } from "./placeholder-vault.ts";
export { type Redaction, type RedactOptions, redactPii } from "./redact.ts";
export { PlaceholderRestoreStream } from "./restore-stream.ts";
export { PiiStreamScanner, type StreamFinding, type StreamScannerOptions, type StreamScanResult } from "./stream-scanner.ts";
export { PII_TYPES, type PiiFinding, type PiiType, placeholderLabel } from "./types.ts";
