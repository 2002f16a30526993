// Start axa's oauth2-mock-server (the peer mockauth is measured against) on 127.0.0.1.
//
//   node bench/peer_server.mjs [PORT]      (PORT 0 or absent: a free port)
//
// Prints "PEER_READY <port>" once it accepts requests; stops on SIGINT/SIGTERM.
// Token endpoint: POST /token (grant_type=client_credentials&aud=...); JWKS: GET /jwks.
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number(process.argv[2] ?? 0);
const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
await server.start(port, '127.0.0.1');
process.stdout.write(`PEER_READY ${server.address().port}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
