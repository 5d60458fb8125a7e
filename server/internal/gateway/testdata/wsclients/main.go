// Command wsclients holds many idle agent connections open against a
// gateway for the connection memory benchmark, from a process of its own
// so that the clients' memory is not counted as the server's.
//
// Usage: wsclients URL N KEYPREFIX. Connection i authenticates with the
// node key KEYPREFIX<i>, says hello and waits for its welcome; when all are
// up it prints "ready". It answers pings until its standard input closes.
// A wss:// URL is a test server: its certificate is not verified.
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: wsclients URL N KEYPREFIX")
		os.Exit(2)
	}
	url, prefix := os.Args[1], os.Args[3]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ws, err := connect(url, prefix+strconv.Itoa(i))
			if err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
				return
			}
			conns[i] = ws
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, ws := range conns {
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
}

func connect(url, key string) (*websocket.Conn, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+key)
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 30 * time.Second,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	ws, _, err := d.Dial(url, h)
	if err != nil {
		return nil, err
	}
	hello, _ := json.Marshal(map[string]any{"type": "hello", "payload": map[string]any{
		"protocol_versions": []int{1}, "agent_version": "bench", "os": "linux", "arch": "amd64", "hostname": key}})
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		return nil, err
	}
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	var env struct{ Type string }
	if err := json.Unmarshal(data, &env); err != nil || env.Type != "welcome" {
		return nil, fmt.Errorf("want welcome, got %.100s", data)
	}
	ws.SetReadDeadline(time.Time{})
	return ws, nil
}
