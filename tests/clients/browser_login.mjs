// Drives whale's OAuth login and consent pages in a real headless Chromium
// (Debian's package, through playwright-core), the way a person would:
// open the authorize URL, type email and password, read the consent, click
// Allow (or Deny), and end on the client's redirect URI.
//
// usage: node browser_login.mjs AUTHORIZE_URL EMAIL PASSWORD approve|deny USER_DATA_DIR
// prints one JSON line: {finalUrl, title, scopes}
import { chromium } from "playwright-core";

const [url, email, password, decision, userDataDir] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
  timeout: 60_000,
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  const title = await page.title();
  await page.fill("#email", email);
  await page.fill("#password", password);
  await Promise.all([page.waitForLoadState(), page.click("button[type=submit]")]);
  try {
    await page.waitForSelector("form[action='/authorize/consent']");
  } catch (e) {
    throw new Error(`no consent page after signing in; the page says: ${await page.innerText("body")}`);
  }
  const scopes = await page.$$eval("ul li", (items) => items.map((li) => li.textContent.trim()));

  const button = decision === "deny" ? "button[value=deny]" : "button[value=approve]";
  await Promise.all([page.waitForURL(/\/callback/), page.click(button)]);
  console.log(JSON.stringify({ finalUrl: page.url(), title, scopes }));
} finally {
  await context.close();
}
