// Package product is the catalog's core: what a product is, which values
// it may hold, and the use cases that list, read and change products. It
// knows nothing of HTTP, MongoDB or Redis; it states what it needs from
// them in ports.go.
//
// The rules it keeps: money is exact (integer cents, parsed from decimal
// text, never a float); only name, description, price, stock and
// attributes are ever set from outside (reserved and sold belong to the
// order flow); every write bumps the version, which is what ETags and the
// cache compare; and a cache can only make reads faster, never change what
// they return or make a request fail.
package product
