/**
 * IP addresses: dotted-quad IPv4 (octets 0–255 without leading zeros, not part of a longer dotted
 * number such as a version `1.2.3.4.5`) and IPv6 in full, compressed (`2001:db8::1`) or IPv4-suffixed
 * (`::ffff:192.0.2.1`) form, checked by `node:net`. Times like `12:30:45` and MAC addresses are not
 * IPv6; an IPv6 candidate without any decimal digit (`cafe::beef`, `::`) is taken for code, not an address.
 */
import { isIPv6 } from "node:net";
import { type PiiDetector, WHOLE_MATCH, detectorOf, tailStart } from "./detector.ts";

const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const IPV4 = new RegExp(String.raw`(?<![\w.])(?:${OCTET}\.){3}${OCTET}(?![\w]|\.\d)`, "g");
// At least two colons up front; the hex-and-colon run is bounded, so a longer run matches nothing.
const IPV6 = new RegExp(
  String.raw`(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}(?:(?<=:)${OCTET}(?:\.${OCTET}){3})?(?![\w:]|\.\d)`,
  "g",
);

/** The longest IPv6 candidate (39 hex-and-colon characters and a dotted quad) and two characters of end check. */
const HORIZON = 39 + 15 + 2;

const PENDING = /(?<![A-Za-z0-9_])[0-9A-Fa-f:][0-9A-Fa-f:.]*$/g;

/** IP address detector. */
export const IP_ADDRESS_DETECTOR: PiiDetector = detectorOf(
  "ip_address",
  HORIZON,
  [
    { re: IPV4, check: WHOLE_MATCH },
    { re: IPV6, check: (m) => (/\d/.test(m[0]) && isIPv6(m[0]) ? m.index + m[0].length : -1) },
  ],
  (text) => tailStart(text, HORIZON, PENDING),
);
