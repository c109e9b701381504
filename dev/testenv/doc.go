// Package testenv gives tests the servers they need: the real ones named by
// MONGODB_URI, REDIS_URL and AMQP_URL when set (as in CI), else embedded ones
// started once per test binary. It also offers a TCP proxy that can cut
// connections, for tests of what happens when a server goes away, and, for
// tests that start servers of their own, Serve, FreeAddr and WaitOK.
//
// The rule it keeps: a test never silently skips what CI must run. A test
// that needs a server that cannot be embedded skips without it, unless
// REQUIRE_SERVICES=1, which turns the skip into a failure.
package testenv
