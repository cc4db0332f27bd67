// Just enough multipart/form-data parsing to read the fields of an audio upload.

export interface FormPart {
  name: string;
  filename?: string;
  /** The part's bytes as latin1 text (one character per byte). */
  value: string;
}

export function parseMultipart(bytes: Buffer, contentType: string | undefined): FormPart[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType ?? '')?.[1];
  if (!boundary) return [];
  const text = bytes.toString('latin1');
  const parts: FormPart[] = [];
  for (const section of text.split(`--${boundary}`).slice(1)) {
    if (section.startsWith('--')) break;
    const headerEnd = section.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const head = section.slice(0, headerEnd);
    const name = /(?:^|[;\s])name="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined) continue;
    const filename = /filename="([^"]*)"/i.exec(head)?.[1];
    parts.push({ name, filename, value: section.slice(headerEnd + 4).replace(/\r\n$/, '') });
  }
  return parts;
}
