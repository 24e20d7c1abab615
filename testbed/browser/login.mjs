// TEST ONLY. A `$BROWSER` for sesame's login tests: opens the URL it is given in the system
// Chromium (headless, driven by playwright-core, no browser download), signs in at the
// bundled provider's login page, consents (or denies), confirms a device code, follows the
// redirect to sesame's loopback listener and saves a screenshot of the final page.
//
//   node login.mjs URL        (or ./sesame-test-browser URL)
//
// Environment (all optional):
//   SESAME_BROWSER_CHROMIUM    Chromium binary (default: /usr/bin/chromium, else `chromium` on PATH)
//   SESAME_BROWSER_CONSENT     allow (default) | deny: click "Continue" or "[ Cancel ]" on the consent page
//   SESAME_BROWSER_USER        login name (default alice)
//   SESAME_BROWSER_PASSWORD    password (default wonderland)
//   SESAME_BROWSER_SCREENSHOT  PNG path for a screenshot of the final page
//   SESAME_BROWSER_TEXT        file for the final page's URL (without query), the `code` it carried, status, title and text (JSON)
//   SESAME_BROWSER_LOG         file to append this script's log lines to
//   SESAME_BROWSER_INVOCATIONS file to append one line to per run (tests count browser flows)
//   SESAME_BROWSER_PROBE       1 = before logging in, probe sesame's loopback listener with GET /favicon.ico
//                              and a callback with a wrong `state` (the statuses go to the log)
//   SESAME_BROWSER_CALLBACK_ERROR  instead of logging in, go straight to sesame's redirect URI with
//                              error=access_denied, this error_description, the request's state and
//                              `iss` ($SESAME_BROWSER_ISSUER, else the authorization endpoint's origin)
//                              (checks how sesame shows a provider's text; the log says whether any
//                              script in the final page ran: `xss: none` or `xss: RAN`)
//   SESAME_BROWSER_TIMEOUT     seconds for the whole run (default 60)
//   SESAME_BROWSER_FINAL       the flow ends on the first page whose URL starts with this (a web
//                              application's own callback route, when URL is the application's
//                              login page rather than the provider's authorization URL)
//
// Exit status 0 when the final page was reached, 1 otherwise (the reason on stderr and in the log).

import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';

const env = process.env;
const logFile = env.SESAME_BROWSER_LOG;

function log(msg) {
  const line = `[sesame-test-browser ${new Date().toISOString()}] ${msg}`;
  process.stderr.write(line + '\n');
  if (logFile) {
    try { appendFileSync(logFile, line + '\n'); } catch { /* best effort */ }
  }
}

function fail(msg) {
  log(`FAILED: ${msg}`);
  process.exitCode = 1;
}

function chromiumPath() {
  if (env.SESAME_BROWSER_CHROMIUM) return env.SESAME_BROWSER_CHROMIUM;
  for (const p of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (existsSync(p)) return p;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

const url = process.argv[2];
if (!url) {
  fail('usage: login.mjs URL');
  process.exit(1);
}
if (env.SESAME_BROWSER_INVOCATIONS) {
  appendFileSync(env.SESAME_BROWSER_INVOCATIONS, `${process.pid} ${new URL(url).pathname}\n`);
}

const consent = (env.SESAME_BROWSER_CONSENT || 'allow').toLowerCase();
const user = env.SESAME_BROWSER_USER || 'alice';
const password = env.SESAME_BROWSER_PASSWORD || 'wonderland';
const deadline = Date.now() + 1000 * Number(env.SESAME_BROWSER_TIMEOUT || 60);

// Where the flow ends: sesame's loopback redirect URI (authorization code flow), or the
// provider's "Sign-in Success" page (device flow).
const start = new URL(url);
const redirectUri = start.searchParams.get('redirect_uri');
const loopbackOrigin = redirectUri ? new URL(redirectUri).origin : null;
const finalPrefix = env.SESAME_BROWSER_FINAL || null;

const executablePath = chromiumPath();
if (!executablePath || !existsSync(executablePath)) {
  fail('Chromium not found: install it (Debian/Ubuntu: apt-get install chromium) or set SESAME_BROWSER_CHROMIUM');
  process.exit(1);
}

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  fail(`cannot load playwright-core (run \`npm ci\` in ${dirname(new URL(import.meta.url).pathname)}): ${e.message}`);
  process.exit(1);
}

const profileDir = mkdtempSync(join(tmpdir(), 'sesame-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport: { width: 900, height: 640 },
    timeout: 30000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15000);
  let lastStatus = null;
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) lastStatus = r.status();
  });

  if (env.SESAME_BROWSER_PROBE === '1' && loopbackOrigin) {
    // Before the real callback: a favicon request must get 404 and a callback with a
    // wrong `state` 400, and the listener must keep waiting for the right one.
    const probe = async (path) => {
      try {
        const resp = await context.request.get(`${loopbackOrigin}${path}`, { failOnStatusCode: false, timeout: 5000, maxRedirects: 0 });
        return String(resp.status());
      } catch (e) {
        return `error ${e.message.split('\n')[0]}`;
      }
    };
    const cb = new URL(redirectUri).pathname;
    log(`probe /favicon.ico -> ${await probe('/favicon.ico')}`);
    log(`probe ${cb}?code=forged&state=wrong -> ${await probe(`${cb}?code=forged&state=wrong`)}`);
  }

  if (env.SESAME_BROWSER_CALLBACK_ERROR && redirectUri) {
    const cb = new URL(redirectUri);
    cb.searchParams.set('error', 'access_denied');
    cb.searchParams.set('error_description', env.SESAME_BROWSER_CALLBACK_ERROR);
    cb.searchParams.set('state', start.searchParams.get('state') || '');
    // As the provider would (RFC 9207: its error responses carry `iss` too; sesame refuses
    // a callback without it from a provider that advertises it). The bundled provider's
    // issuer is the origin of its authorization endpoint.
    cb.searchParams.set('iss', env.SESAME_BROWSER_ISSUER || start.origin);
    log(`open ${cb.origin}${cb.pathname} with an injected error`);
    await page.goto(cb.toString(), { waitUntil: 'load' });
  } else {
    log(`open ${start.origin}${start.pathname}`);
    await page.goto(url, { waitUntil: 'load' });
  }

  let done = false;
  let steps = 0;
  while (!done) {
    if (Date.now() > deadline) throw new Error(`no final page before the deadline; last URL ${page.url()}`);
    if (++steps > 30) throw new Error(`too many steps; last URL ${page.url()}`);
    await page.waitForLoadState('load');
    const here = page.url();
    if (finalPrefix && here.startsWith(finalPrefix)) {
      done = true;
      break;
    }
    if (!finalPrefix && loopbackOrigin && here.startsWith(loopbackOrigin)) {
      done = true;
      break;
    }
    // A pushed authorization request (RFC 9126) has no redirect_uri in the URL: the
    // callback is the first loopback page on another origin than the provider's.
    const hereUrl = new URL(here);
    if (!loopbackOrigin && start.searchParams.has('request_uri') && hereUrl.origin !== start.origin
      && ['127.0.0.1', 'localhost', '[::1]'].includes(hereUrl.hostname)) {
      done = true;
      break;
    }
    const h1 = ((await page.locator('h1').first().textContent({ timeout: 5000 }).catch(() => '')) || '').trim();
    if (h1 === 'Sign-in' && (await page.locator('input[name=login]').count()) > 0) {
      log('login page: signing in');
      await page.fill('input[name=login]', user);
      await page.fill('input[name=password]', password);
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
    } else if (h1 === 'Authorize') {
      if (consent === 'deny') {
        log('consent page: denying ([ Cancel ])');
        await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('a[href$="/abort"]')]);
      } else {
        log('consent page: continuing');
        await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
      }
    } else if (h1 === 'Confirm Device') {
      log('device confirm page: continuing');
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.click('button[form="op.deviceConfirmForm"]'),
      ]);
    } else if (!loopbackOrigin && /Sign-in Success|Success/i.test(h1)) {
      done = true;
    } else if (!loopbackOrigin && /Error|Failure|abort/i.test(h1)) {
      done = true;
    } else {
      // Auto-submitting pages (device code) and redirects: wait for the next navigation.
      log(`waiting on "${h1}" at ${new URL(here).pathname}`);
      await page.waitForNavigation({ waitUntil: 'load', timeout: 5000 }).catch(() => {});
    }
  }

  const final = new URL(page.url());
  log(`final page ${final.origin}${final.pathname} (HTTP ${lastStatus})`);

  const xss = await page.evaluate(() => typeof window.__sesameXss === 'undefined' ? 'none' : 'RAN');
  log(`xss: ${xss}`);
  const text = await page.evaluate(() => document.body ? document.body.innerText : '');
  const title = await page.title();
  if (env.SESAME_BROWSER_TEXT) {
    mkdirSync(dirname(env.SESAME_BROWSER_TEXT), { recursive: true });
    writeFileSync(env.SESAME_BROWSER_TEXT, JSON.stringify({ url: `${final.origin}${final.pathname}`, code: final.searchParams.get('code'), status: lastStatus, title, text }, null, 2));
  }
  if (env.SESAME_BROWSER_SCREENSHOT) {
    mkdirSync(dirname(env.SESAME_BROWSER_SCREENSHOT), { recursive: true });
    await page.screenshot({ path: env.SESAME_BROWSER_SCREENSHOT, fullPage: true });
    log(`screenshot ${env.SESAME_BROWSER_SCREENSHOT}`);
  }
  log(`done: "${title}"`);
} catch (e) {
  fail(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : String(e));
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profileDir, { recursive: true, force: true });
}
