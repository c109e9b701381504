// Package customer is the core of the customer service: who a customer is,
// the rules their data keeps, and the use cases (register, log in, refresh,
// log out, read and update a profile, bootstrap the admin).
//
// It imports no transport or storage package. What it needs from the outside
// world (storage, sessions, login throttling, password hashing, token
// signing, time) it names as interfaces in ports.go, and adapters elsewhere
// in the module implement them.
package customer
