// Package cluster lets several steward-server processes sharing one
// PostgreSQL database act as one server: what the admin API changes on one
// replica reaches the agents connected to the others through LISTEN and
// NOTIFY, and periodic work runs on one replica at a time under an
// advisory lock.
package cluster
