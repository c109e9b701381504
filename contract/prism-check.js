// Prism (run with --errors) answers a request or response that breaks the
// document with a problem of its own instead of the service's answer, and a
// mock names what it found wrong in the sl-violations header: turn either into
// a failed test that says which rule broke.
(function () {
  var violations = pm.response.headers.get('sl-violations');
  if (violations) {
    pm.test('Prism: ' + pm.info.requestName + ' holds to the document', function () {
      pm.expect.fail('sl-violations: ' + violations);
    });
  }
  var body;
  try { body = pm.response.json(); } catch (e) { return; }
  var type = body && typeof body.type === 'string' ? body.type : '';
  if (type.indexOf('https://stoplight.io/prism/errors#') !== 0) return;
  pm.test('Prism: ' + pm.info.requestName + ' holds to the document', function () {
    pm.expect.fail(type.split('#')[1] + ': ' + (body.detail || body.title || '') +
      (body.validation ? ' ' + JSON.stringify(body.validation) : ''));
  });
})();
