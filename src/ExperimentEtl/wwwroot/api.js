// The dashboard's calls to the API: JSON reads that honour Retry-After, and starting a run.

/** The words of an RFC 9457 problem body, or a fallback. */
export function problemText(body, status) {
  if (body && typeof body === 'object' && (body.title || body.detail)) {
    return body.detail ? `${body.title ?? 'Error'}: ${body.detail}` : body.title;
  }
  return `The server answered ${status}.`;
}

export async function getJson(url, signal) {
  let response = await fetch(url, { headers: { Accept: 'application/json' }, signal });
  // A busy server (too many reads at once) or one still preparing its database says when to come back: twice at most.
  for (let retries = 0; response.status === 503 && retries < 2; retries++) {
    const seconds = Number(response.headers.get('Retry-After'));
    if (!(seconds > 0 && seconds <= 5)) break;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    signal?.throwIfAborted();
    response = await fetch(url, { headers: { Accept: 'application/json' }, signal });
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(problemText(body, response.status));
    error.status = response.status;
    throw error;
  }
  return body;
}

/**
 * POSTs a run (no body: the data folder; a FormData: an upload) through XHR, which reports upload progress
 * (onUploadProgress gets the percentage). Resolves with the status (0: no answer) and the parsed body.
 */
export function postRun(mode, formData, apiKey, onUploadProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/etl/runs?mode=${encodeURIComponent(mode)}`);
    xhr.setRequestHeader('Accept', 'application/json');
    if (apiKey) xhr.setRequestHeader('X-Api-Key', apiKey);
    if (formData) {
      xhr.upload.addEventListener('progress', (event) => {
        if (!event.lengthComputable) return;
        onUploadProgress(Math.floor((event.loaded / event.total) * 100));
      });
    }
    xhr.addEventListener('load', () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener('error', () => resolve({ status: 0, body: null }));
    xhr.addEventListener('abort', () => resolve({ status: 0, body: null }));
    xhr.send(formData ?? null);
  });
}
