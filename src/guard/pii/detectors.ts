/** The detector of each PII type, and the subset a caller asks for. */
import type { PiiDetector } from "./detector.ts";
import { EMAIL_DETECTOR } from "./email.ts";
import { IBAN_DETECTOR } from "./iban.ts";
import { IP_ADDRESS_DETECTOR } from "./ip-address.ts";
import { PAYMENT_CARD_DETECTOR } from "./payment-card.ts";
import { PHONE_DETECTOR } from "./phone.ts";
import { PRC_ID_DETECTOR } from "./prc-id.ts";
import { SECRET_DETECTOR } from "./secret.ts";
import { PII_TYPES, type PiiType } from "./types.ts";
import { US_SSN_DETECTOR } from "./us-ssn.ts";

/** Every detector, by type. */
export const DETECTORS: Readonly<Record<PiiType, PiiDetector>> = {
  email: EMAIL_DETECTOR,
  phone: PHONE_DETECTOR,
  payment_card: PAYMENT_CARD_DETECTOR,
  iban: IBAN_DETECTOR,
  us_ssn: US_SSN_DETECTOR,
  prc_id: PRC_ID_DETECTOR,
  ip_address: IP_ADDRESS_DETECTOR,
  secret: SECRET_DETECTOR,
};

/**
 * Detectors never look further back than this from where a finding starts (cues such as "SSN" or
 * "aws_secret_access_key" within ~30 characters, one-character boundary checks), so a rescan needs
 * only this much already-seen text before it.
 */
export const MAX_LOOKBACK = 64;

/** The detectors for `types` (all when omitted), in priority order. */
export function detectorsFor(types?: readonly PiiType[]): PiiDetector[] {
  return PII_TYPES.filter((t) => types === undefined || types.includes(t)).map((t) => DETECTORS[t]);
}
