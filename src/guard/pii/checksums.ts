/** Check-digit algorithms the validators use: Luhn (cards), ISO 7064 MOD 97-10 (IBAN), MOD 11-2 (PRC ID). */

/** True when a string of digits passes the Luhn check. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * The remainder mod 97 of an IBAN rearranged for checking (first four characters moved to the end,
 * letters as 10..35), computed digit by digit so no big integers are needed. A valid IBAN gives 1.
 */
export function ibanRemainder(iban: string): number {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) rest = (rest * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rest = (rest * 100 + (c - 55)) % 97;
    else return -1;
  }
  return rest;
}

const PRC_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const PRC_CHECK = "10X98765432";

/** The ISO 7064 MOD 11-2 check character ("0".."9" or "X") of the first 17 digits of a PRC identity number. */
export function prcCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * (PRC_WEIGHTS[i] as number);
  return PRC_CHECK[sum % 11] as string;
}
