// REST calls under /api/v1. Errors are thrown as {status, code, message}.
let token = null;
export const setToken = (t) => { token = t; };
export const getToken = () => token;

export async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw { status: 0, code: 'network', message: 'network error' };
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) throw { status: res.status, code: data?.code || 'internal', message: data?.message || res.statusText };
  return data;
}

// Upload a File as raw bytes with progress; resolves with the AttachmentInfo.
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/v1/attachments?name=${encodeURIComponent(file.name || 'file')}`);
    xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not json */ }
      if (xhr.status === 201) resolve(data);
      else reject({ status: xhr.status, code: data?.code || 'internal', message: data?.message || '' });
    };
    xhr.onerror = () => reject({ status: 0, code: 'network', message: 'network error' });
    xhr.send(file);
  });
}

// An attachment URL usable in <img>/<audio>/<video>/<a> (the token goes in the query).
export const mediaUrl = (url) => `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token || '')}`;
