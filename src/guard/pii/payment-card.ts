/**
 * Payment card numbers: 13–19 digits, contiguous or in the printed groupings (4-4-4-4, 4-4-4-4-3,
 * Amex 4-6-5, Diners 4-6-4) with one kind of separator, whose issuer prefix and length fit a known
 * network and which pass the Luhn check.
 */
import { cardNetworkValid } from "./card-networks.ts";
import { luhnValid } from "./checksums.ts";
import { type PiiDetector, detectorOf, tailStart } from "./detector.ts";
import { prcIdShape } from "./prc-id.ts";

/** 19 digits in 4-4-4-4-3 with four separators. */
const MAX_LENGTH = 23;
/** The end checks look at up to two characters after the number. */
const HORIZON = MAX_LENGTH + 2;

// A grouped number must not follow another digit group ("1234 4111 1111 …" is one longer number),
// nor be followed by one; a contiguous run may sit in a space-separated list of numbers.
const CARD = new RegExp(
  String.raw`(?<![\w.\-/+@])(?:` +
    String.raw`\d{13,19}(?![\w@]|[.,\-]\d)` +
    String.raw`|(?<!\d[ -])\d{4}(?<s1>[ -])\d{4}\k<s1>\d{4}\k<s1>\d{1,4}(?:\k<s1>\d{3})?(?![\w@]|[ .,\-]\d)` +
    String.raw`|(?<!\d[ -])\d{4}(?<s2>[ -])\d{6}\k<s2>\d{4,5}(?![\w@]|[ .,\-]\d)` +
    `)`,
  "g",
);

const PENDING = /(?<![A-Za-z0-9_])\d[\d .,-]*$/g;

/** True for a digit string that is a valid card number (network and Luhn). */
export function cardNumberValid(digits: string): boolean {
  if (!cardNetworkValid(digits) || !luhnValid(digits)) return false;
  // An 18-digit number with a region code and a birth date where a PRC ID has them is far more likely
  // a mistyped ID than one of the rare 18-digit cards.
  return !(digits.length === 18 && prcIdShape(digits));
}

/** Payment card detector. */
export const PAYMENT_CARD_DETECTOR: PiiDetector = detectorOf(
  "payment_card",
  HORIZON,
  [
    {
      re: CARD,
      check(m) {
        return cardNumberValid(m[0].replace(/[ -]/g, "")) ? m.index + m[0].length : -1;
      },
    },
  ],
  (text) => tailStart(text, HORIZON, PENDING),
);
