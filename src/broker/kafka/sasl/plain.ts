/**
 * SASL PLAIN's one token (RFC 4616): [authzid] NUL authcid NUL passwd, all UTF-8. As in Kafka,
 * an authorization id, when given, must be the user itself: acting as another user is not
 * supported.
 */
export type PlainToken =
  | { readonly ok: true; readonly username: string; readonly password: string }
  | { readonly ok: false; readonly reason: string };

/** RFC 4616 bounds each part to 255 octets; Kafka accepts more, and so do MQTT passwords. */
const PART_BYTES_MAX = 65_535;
const decoder = new TextDecoder("utf-8", { fatal: true });

export function parsePlainToken(token: Buffer): PlainToken {
  const first = token.indexOf(0);
  const second = first < 0 ? -1 : token.indexOf(0, first + 1);
  if (first < 0 || second < 0 || token.indexOf(0, second + 1) >= 0) {
    return { ok: false, reason: "Invalid SASL/PLAIN request: expected 3 tokens" };
  }
  const parts = [token.subarray(0, first), token.subarray(first + 1, second)];
  parts.push(token.subarray(second + 1));
  if (parts.some((part) => part.length > PART_BYTES_MAX)) {
    return { ok: false, reason: "Invalid SASL/PLAIN request: a part is too long" };
  }
  let authzid: string;
  let username: string;
  let password: string;
  try {
    [authzid, username, password] = parts.map((part) => decoder.decode(part));
  } catch {
    return { ok: false, reason: "Invalid SASL/PLAIN request: not UTF-8" };
  }
  if (username === "")
    return { ok: false, reason: "Authentication failed: username not specified" };
  if (password === "")
    return { ok: false, reason: "Authentication failed: password not specified" };
  if (authzid !== "" && authzid !== username) {
    return {
      ok: false,
      reason:
        "Authentication failed: Client requested an authorization id that is different from username",
    };
  }
  return { ok: true, username, password };
}
