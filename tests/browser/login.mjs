// Browser smoke test: enroll, sign out, sign in through Castellan's pages
// in Debian's headless Chromium, driven by playwright-core.
//
//   node login.mjs BASE_URL SCREENSHOT_DIR
//
// NODE_E2E names the folder where playwright-core is installed
// (scripts/setup puts it in .node-e2e). Exits non-zero on any failure.
import { createRequire } from 'node:module';
import path from 'node:path';

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error('usage: node login.mjs BASE_URL SCREENSHOT_DIR');
  process.exit(2);
}
const require = createRequire(path.resolve(process.env.NODE_E2E ?? '.node-e2e') + '/');
const { chromium } = require('playwright-core');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const fail = async (page, message) => {
  await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true });
  throw new Error(`${message} (at ${page.url()})`);
};

try {
  const page = await browser.newPage();
  const user = `ada${Date.now()}`;
  const password = 'Correct-Horse-Battery-9';

  // Enroll.
  await page.goto(`${base}/if/flow/default-enrollment/`);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Email').fill(`${user}@example.org`);
  await page.getByLabel('Full name').fill('Ada Lovelace');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Password (again)').fill(password);
  await page.screenshot({ path: path.join(shots, 'enrollment.png'), fullPage: true });
  await page.getByRole('button').click();
  await page.waitForURL('**/if/user/');
  if (!(await page.content()).includes(user)) await fail(page, 'account page does not show the new user');

  // Sign out.
  await page.getByRole('link', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/if/flow/default-authentication/**');
  await page.goto(`${base}/if/user/`);
  await page.waitForURL('**/if/flow/default-authentication/**');

  // Sign in: identification, then password.
  await page.getByLabel('Username or email').fill(user);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('Password').fill(password);
  await page.screenshot({ path: path.join(shots, 'password.png'), fullPage: true });
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/if/user/');
  await page.screenshot({ path: path.join(shots, 'account.png'), fullPage: true });
  if (!(await page.content()).includes(user)) await fail(page, 'signed-in page does not show the user');
  console.log(`browser: enrolled, signed out and signed in as ${user}`);
} finally {
  await browser.close();
}
