// The pieces of HAProxy config syntax that the renderer and the sections it composes share.

/** A section: its header line, then its lines indented by four spaces. */
export function section(header: string, lines: string[]): string {
  return `${header}\n${lines.map((line) => `    ${line}`).join("\n")}\n`;
}

/** L7 retries for requests that are safe to send twice; others fail rather than run twice. */
export const L7_RETRY_ONLY_IDEMPOTENT = "http-request disable-l7-retry unless METH_GET || METH_HEAD";
