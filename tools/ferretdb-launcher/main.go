// Command slipway-ferretdb runs embedded FerretDB (SQLite backend) as Slipway's
// default MongoDB-wire registry server when no mongod is installed.
//
// It embeds the ferretdb package instead of using cmd/ferretdb, whose
// `go install` build panics at start for want of generated version files.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("sqlite-dir", "data/ferretdb", "directory for the SQLite database files")
	level := flag.String("log-level", "error", "log level: debug, info, warn, error")
	flag.Parse()

	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "slipway-ferretdb: bad --log-level %q: %v\n", *level, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "slipway-ferretdb: cannot create --sqlite-dir %q: %v\n", *dir, err)
		os.Exit(1)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dir + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "slipway-ferretdb: %v\n", err)
		os.Exit(1)
	}

	// Stop cleanly on SIGINT/SIGTERM so SQLite files are closed, not torn.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("slipway-ferretdb listening on %s (sqlite %s)\n", f.MongoDBURI(), *dir)
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "slipway-ferretdb: %v\n", err)
		os.Exit(1)
	}
}
