// getHost(port): a web server in the sandbox, reached over HTTP at the host
// name the SDK gives, through the node the SDK talks to (in the cluster run,
// not the sandbox's owner). Warren's ports are private: the request carries
// the sandbox's trafficAccessToken as E2B's e2b-traffic-access-token header.
// Names under localhost do not resolve here, so the request goes to the
// node's address with the SDK's host name in the Host header.
import http from 'node:http';

function get(url, host, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Host: host, ...headers }, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

export default async function (s) {
  await s.test('getHost(port): the sandbox web server over HTTP, token required', async () => {
    const sbx = s.sandbox();
    await sbx.files.write('/tmp/www/index.html', 'hello from the sandbox\n');
    await sbx.commands.run('busybox httpd -f -p 8000 -h /tmp/www', { background: true, user: 'root' });
    const host = sbx.getHost(8000);
    s.eq(host, `8000-${sbx.sandboxId}.localhost`, 'getHost');
    s.assert(sbx.trafficAccessToken, 'create answers a trafficAccessToken');
    const node = new URL(s.env.WARREN_URL);
    const hostHeader = `${host}:${node.port}`;
    let r;
    for (let i = 0; i < 50; i++) {
      r = await get(`${s.env.WARREN_URL}/index.html`, hostHeader, { 'e2b-traffic-access-token': sbx.trafficAccessToken });
      if (r.status !== 502) break; // the server is still starting
      await new Promise((ok) => setTimeout(ok, 100));
    }
    s.eq([r.status, r.body], [200, 'hello from the sandbox\n'], 'GET with the traffic token');
    const anon = await get(`${s.env.WARREN_URL}/index.html`, hostHeader, {});
    s.eq(anon.status, 401, 'GET without a credential');
    const wrong = await get(`${s.env.WARREN_URL}/index.html`, hostHeader, { 'e2b-traffic-access-token': 'wat_' + 'A'.repeat(43) });
    s.eq(wrong.status, 401, 'GET with a wrong token');
  });
}
