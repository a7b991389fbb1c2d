// Runs the gateway's /_sso/ecwid/sso-profile.js (read from stdin) in a fresh V8
// context with a stub of Ecwid's widget API, and prints what the script did as JSON:
// the global `ecwid_sso_profile` and every call it made on the API. Two runs: with
// the widget already loaded, and with the widget arriving at the page's load event.
// Used by tests/tests/ecwid.rs.
import vm from 'node:vm';
import fs from 'node:fs';

const source = fs.readFileSync(0, 'utf8');

function run(loadedFirst) {
  const calls = [];
  const listeners = {};
  const ecwid = {
    OnAPILoaded: { add: (fn) => { calls.push(['OnAPILoaded.add']); fn(); } },
    setSignInUrls: (urls) => calls.push(['setSignInUrls', urls]),
    setSsoProfile: (profile) => calls.push(['setSsoProfile', profile]),
  };
  const window = {
    location: { pathname: '/catalog/shoes', search: '?size=42&q=a b' },
    addEventListener: (name, fn) => { listeners[name] = fn; },
  };
  if (loadedFirst) window.Ecwid = ecwid;
  const context = vm.createContext({ window, encodeURIComponent });
  vm.runInContext(source, context, { filename: 'sso-profile.js' });
  if (!loadedFirst) {
    calls.push(['before load']);
    window.Ecwid = ecwid;
    if (listeners.load) listeners.load();
  }
  return { profile: context.ecwid_sso_profile, calls };
}

console.log(JSON.stringify({ loaded: run(true), later: run(false) }));
