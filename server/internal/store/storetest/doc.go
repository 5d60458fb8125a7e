// Package storetest is the contract every store.Store backend must pass,
// run by each backend's tests against a real database.
package storetest
