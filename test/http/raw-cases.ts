// Requests node:http refuses (or RFC 9112 forbids) before any route sees
// them, as raw bytes: every one must get a one-line text/plain answer.
// Shared by the HTTP-layer test and the primary's bad-input test.
export interface RawCase {
  name: string;
  bytes: string;
  status: number;
  message: RegExp;
}

export function rawBadRequests(path: string): RawCase[] {
  const H = 'Host: 127.0.0.1';
  return [
    { name: 'malformed request line', bytes: `GE T ${path} HTTP/1.1\r\n${H}\r\n\r\n`, status: 400, message: /^bad request: / },
    { name: 'unknown HTTP version', bytes: `GET ${path} HTTP/7.3\r\n${H}\r\n\r\n`, status: 400, message: /^bad request: / },
    { name: 'space in a header name', bytes: `GET ${path} HTTP/1.1\r\n${H}\r\nBad Header: x\r\n\r\n`, status: 400, message: /^bad request: .*header/i },
    { name: 'header without colon', bytes: `GET ${path} HTTP/1.1\r\n${H}\r\nNoColonHere\r\n\r\n`, status: 400, message: /^bad request: / },
    { name: 'NUL in a header value', bytes: `GET ${path} HTTP/1.1\r\n${H}\r\nX-A: a\0b\r\n\r\n`, status: 400, message: /^bad request: .*header value/i },
    { name: 'obs-fold', bytes: `GET ${path} HTTP/1.1\r\n${H}\r\nX-A: a\r\n  folded\r\n\r\n`, status: 400, message: /^bad request: / },
    { name: 'missing Host', bytes: `GET ${path} HTTP/1.1\r\n\r\n`, status: 400, message: /^bad request: missing Host header$/ },
    { name: 'two Host headers', bytes: `GET ${path} HTTP/1.1\r\n${H}\r\nHost: 127.0.0.2\r\n\r\n`, status: 400, message: /^bad request: more than one Host header$/ },
    {
      name: 'duplicate Content-Length',
      bytes: `POST ${path} HTTP/1.1\r\n${H}\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc`,
      status: 400,
      message: /^bad request: .*content-length/i,
    },
    {
      name: 'Content-Length with Transfer-Encoding',
      bytes: `POST ${path} HTTP/1.1\r\n${H}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      status: 400,
      message: /^bad request: .*transfer-encoding/i,
    },
    { name: 'HTTP/0.9', bytes: `GET ${path}\r\n\r\n`, status: 400, message: /^bad request: HTTP\/0\.9 is not supported/ },
    { name: 'oversized head', bytes: `GET ${path} HTTP/1.1\r\n${H}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431, message: /^request head too large/ },
  ];
}
