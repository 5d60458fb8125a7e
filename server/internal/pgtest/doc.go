// Package pgtest gives tests a real PostgreSQL: a database of their own on
// STEWARD_TEST_DATABASE's server or on a throwaway cluster it starts.
package pgtest
