// Drives @kinde/js-utils' Account API calls (forceApi) against mockauth, as a signed-in
// browser app does: the user's access token in the SDK's storage, the domain from its iss.
// Prints one JSON line of what it saw; tests/e2e/test_account_js.py checks it. Run with
// KINDE_JS_UTILS=<package dir>, MOCKAUTH_TOKEN=<access token>, NODE_EXTRA_CA_CERTS=<CA>.
const utils = require(process.env.KINDE_JS_UTILS);

async function main() {
  const storage = new utils.MemoryStorage();
  utils.setActiveStorage(storage);
  await storage.setSessionItem(utils.StorageKeys.accessToken, process.env.MOCKAUTH_TOKEN);
  const api = { forceApi: true };
  const seen = {};
  seen.roles = await utils.getRoles(api);
  seen.permissions = await utils.getPermissions(api);
  seen.granted = await utils.getPermission("read:reports", api);
  seen.refused = await utils.getPermission("write:reports", api);
  seen.seats = await utils.getFlag("seats", api); // found by its name
  seen.theme = await utils.getFlag("theme", api);
  seen.entitlements = await utils.getEntitlements();
  seen.has_role = await utils.hasRoles({ roles: ["analyst"], forceApi: true });
  seen.has_flag = await utils.hasFeatureFlags({
    featureFlags: [{ flag: "theme", value: "blue" }],
    forceApi: true,
  });
  try {
    await utils.getEntitlement("seats");
    seen.missing = "answered";
  } catch (err) {
    seen.missing = String(err.message);
  }
  process.stdout.write(JSON.stringify(seen) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
