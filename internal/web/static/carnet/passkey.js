// Passkeys (WebAuthn) for carnet's pages: the second step of a sign-in and the addition of a
// passkey. The pages work without this script (a code by e-mail; the list and deletion of
// passkeys): it only enhances them. Its texts are in the page (data-* attributes), translated
// by the server; the options come from JSON endpoints and the authenticator's answer is
// posted back in an ordinary form, binary members in base64url (WebAuthn Level 3 §5.1.8).
'use strict';

function b64uToBuffer(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function bufferToB64u(buf) {
  const bytes = new Uint8Array(buf);
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function descriptors(list) {
  return (list || []).map((d) => Object.assign({}, d, { id: b64uToBuffer(d.id) }));
}

// creationOptions and requestOptions turn the server's JSON into what the browser takes.
function creationOptions(json) {
  const o = Object.assign({}, json.publicKey);
  o.challenge = b64uToBuffer(o.challenge);
  o.user = Object.assign({}, o.user, { id: b64uToBuffer(o.user.id) });
  o.excludeCredentials = descriptors(o.excludeCredentials);
  return { publicKey: o };
}

function requestOptions(json) {
  const o = Object.assign({}, json.publicKey);
  o.challenge = b64uToBuffer(o.challenge);
  o.allowCredentials = descriptors(o.allowCredentials);
  return { publicKey: o };
}

// credentialJSON is the PublicKeyCredential as the server reads it.
function credentialJSON(c) {
  const r = c.response;
  const out = {
    id: c.id,
    rawId: bufferToB64u(c.rawId),
    type: c.type,
    clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
    response: { clientDataJSON: bufferToB64u(r.clientDataJSON) },
  };
  if (c.authenticatorAttachment) out.authenticatorAttachment = c.authenticatorAttachment;
  if (r.attestationObject) {
    out.response.attestationObject = bufferToB64u(r.attestationObject);
    out.response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    out.response.authenticatorData = bufferToB64u(r.authenticatorData);
    out.response.signature = bufferToB64u(r.signature);
    if (r.userHandle) out.response.userHandle = bufferToB64u(r.userHandle);
  }
  return JSON.stringify(out);
}

// show reveals el (the DSFR sets the display of its classes, so what the page hides with
// the hidden attribute carries no class of its own); an error gets its text and its style.
function show(el, text) {
  if (!el) return;
  if (text !== undefined) {
    el.textContent = text;
    el.classList.add('fr-error-text');
  }
  el.hidden = false;
}

const supported = () => typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;

// The second step of a sign-in: the options of the pending challenge, then the assertion.
function signin(box) {
  const error = document.getElementById('passkey-error');
  const button = document.getElementById('passkey-use');
  const form = document.getElementById('passkey-form');
  if (!supported()) {
    show(error, box.dataset.unsupported);
    return;
  }
  fetch(box.dataset.options, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then((res) => {
      if (res.status === 404) {
        // No passkey awaited (a code was sent): the ordinary form.
        box.hidden = true;
        show(document.getElementById('code-nodest'));
        show(document.getElementById('code-form'));
        return null;
      }
      if (!res.ok) throw new Error('options: ' + res.status);
      return res.json();
    })
    .then((json) => {
      if (!json) return;
      show(document.getElementById('passkey-use-box'));
      button.addEventListener('click', () => {
        error.hidden = true;
        button.disabled = true;
        navigator.credentials.get(requestOptions(json))
          .then((cred) => {
            document.getElementById('passkey-response').value = credentialJSON(cred);
            form.submit();
          })
          .catch(() => {
            button.disabled = false;
            show(error, box.dataset.error);
          });
      });
    })
    .catch(() => show(error, box.dataset.error));
}

// Adding a passkey: a registration ceremony begun (CSRF header), the authenticator's
// answer, the form posted.
function register(form) {
  const error = document.getElementById('passkey-error');
  const button = document.getElementById('passkey-add-button');
  if (!supported()) {
    show(error, form.dataset.unsupported);
    return;
  }
  show(document.getElementById('passkey-add-box'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.hidden = true;
    button.disabled = true;
    const fail = () => {
      button.disabled = false;
      show(error, form.dataset.error);
    };
    fetch(form.dataset.options, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'X-CSRF-Token': form.elements.csrf_token.value },
    })
      .then((res) => {
        if (!res.ok) throw new Error('options: ' + res.status);
        return res.json();
      })
      .then((json) => navigator.credentials.create(creationOptions(json.options)).then((cred) => {
        document.getElementById('passkey-token').value = json.token;
        document.getElementById('passkey-response').value = credentialJSON(cred);
        form.submit();
      }))
      .catch(fail);
  });
}

const box = document.getElementById('passkey-signin');
if (box) signin(box);
const add = document.getElementById('passkey-add');
if (add) register(add);
