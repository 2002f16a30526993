// Drives @kinde/management-api-js against mockauth: users, organizations, roles and
// feature flags. Prints one JSON line of what it saw; tests/e2e/test_management_js.py
// checks it. Run with KINDE_MGMT_JS=<package dir>, NODE_EXTRA_CA_CERTS=<mockauth CA>.
const kinde = require(process.env.KINDE_MGMT_JS);
const { init, Users, Organizations, Roles, Permissions, FeatureFlags, Environments } = kinde;

async function main() {
  init({
    kindeDomain: process.env.MOCKAUTH_URL,
    clientId: process.env.MOCKAUTH_CLIENT_ID,
    clientSecret: process.env.MOCKAUTH_CLIENT_SECRET,
  });
  const seen = {};
  const listed = await Users.getUsers({ pageSize: 10, expand: "organizations" });
  seen.users = listed.users.map((u) => u.email);
  const user = await Users.createUser({
    requestBody: {
      profile: { given_name: "Grace", family_name: "Hopper" },
      identities: [{ type: "email", is_verified: true, details: { email: "grace@example.com" } }],
    },
  });
  seen.created = user.created;
  const fetched = await Users.getUserData({ id: user.id });
  seen.fetched = fetched.preferred_email;
  await Users.updateUser({ id: user.id, requestBody: { given_name: "Amazing Grace" } });
  const org = await Organizations.createOrganization({ requestBody: { name: "Navy" } });
  const orgCode = org.organization.code;
  const role = await Roles.createRole({ requestBody: { name: "Admiral", key: "admiral" } });
  await Permissions.createPermission({ requestBody: { key: "sail", name: "Sail" } });
  const perms = await Permissions.getPermissions({});
  const sail = perms.permissions.find((p) => p.key === "sail");
  const updated = await Roles.updateRolePermissions({
    roleId: role.role.id,
    requestBody: { permissions: [{ id: sail.id }] },
  });
  seen.permissions_added = updated.permissions_added.length;
  seen.role_permissions = (await Roles.getRolePermissions({ roleId: role.role.id })).permissions.map(
    (p) => p.key,
  );
  await Roles.updateRoles({ roleId: role.role.id, requestBody: { name: "Admirals", key: "admiral" } });
  seen.role = (await Roles.getRole({ roleId: role.role.id })).role.name;
  const added = await Organizations.addOrganizationUsers({
    orgCode,
    requestBody: { users: [{ id: user.id, roles: ["admiral"] }] },
  });
  seen.users_added = added.users_added;
  const members = await Organizations.getOrganizationUsers({ orgCode });
  seen.member_roles = members.organization_users.map((u) => u.roles);
  const userRoles = await Organizations.getOrganizationUserRoles({ orgCode, userId: user.id });
  seen.user_roles = userRoles.roles.map((r) => r.key);
  await FeatureFlags.createFeatureFlag({
    requestBody: {
      name: "Fleet size",
      key: "fleet",
      type: "int",
      allow_override_level: "org",
      default_value: "3",
    },
  });
  await FeatureFlags.updateFeatureFlag({
    featureFlagKey: "fleet",
    name: "Fleet size",
    description: "ships",
    type: "int",
    allowOverrideLevel: "org",
    defaultValue: "5",
  });
  await Organizations.updateOrganizationFeatureFlagOverride({
    orgCode,
    featureFlagKey: "fleet",
    value: "7",
  });
  seen.env_flag = (await Environments.getEnvironementFeatureFlags()).feature_flags.fleet;
  seen.org_flag = (await Organizations.getOrganizationFeatureFlags({ orgCode })).feature_flags.fleet;
  await FeatureFlags.deleteFeatureFlag({ featureFlagKey: "fleet" });
  try {
    await Roles.getRole({ roleId: "missing" });
    seen.missing = "no error";
  } catch (error) {
    seen.missing = { status: error.status, body: error.body };
  }
  await Roles.deleteRole({ roleId: role.role.id });
  await Organizations.deleteOrganization({ orgCode });
  await Users.deleteUser({ id: user.id });
  seen.left = (await Users.getUsers({})).users.length;
  console.log(JSON.stringify(seen));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
