// The integrity trailer of a rendered config. A delivery can be cut short (a dropped SSH or
// Docker connection, a truncated stdin) and most cuts at a line break still pass `haproxy -c`,
// serving with servers missing: the delivery script recomputes this checksum inside the
// container and installs nothing that does not match.
import { createHash } from "crypto";

/** The last line of a sealed config is this prefix followed by 64 lowercase hex digits. */
export const CONFIG_TRAILER_PREFIX = "# end of traffic-distributor config sha256:";

/**
 * Appends the trailer: the SHA-256 of every byte of `text`, which must end with a line
 * break (so the trailer is a line of its own and the checksum covers whole lines).
 */
export function sealConfig(text: string): string {
  if (!text.endsWith("\n")) throw new Error("sealConfig: the config must end with a line break");
  const digest = createHash("sha256").update(text, "utf8").digest("hex");
  return `${text}${CONFIG_TRAILER_PREFIX}${digest}\n`;
}
