// kfake-broker: franz-go's kfake (an in-process fake Kafka cluster, written in Go) as a process
// of its own, so that `kappa bench broker --kfake PATH` measures it with the same client and
// workload as `kappa broker` and Apache Kafka. Built from the Go module proxy by
// scripts/build-kfake.sh.
//
//	kfake-broker [-port N] [-data DIR [-sync]]
//
// One broker on 127.0.0.1 (-port 0: any free port), topics created on demand. -data keeps the
// log in DIR (kfake's disk persistence); -sync fsyncs every batch (kfake's SyncWrites). Prints
// "kfake: listening on HOST:PORT" when ready, runs until SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 0, "the port to listen on (0: any free one)")
	data := flag.String("data", "", "keep the log in this directory (kfake's DataDir)")
	sync := flag.Bool("sync", false, "fsync every batch (kfake's SyncWrites; needs -data)")
	flag.Parse()
	if *sync && *data == "" {
		fmt.Fprintln(os.Stderr, "kfake-broker: -sync needs -data")
		os.Exit(2)
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.AllowAutoTopicCreation()}
	if *port > 0 {
		opts = append(opts, kfake.Ports(*port))
	}
	if *data != "" {
		opts = append(opts, kfake.DataDir(*data))
		if *sync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake-broker:", err)
		os.Exit(1)
	}
	fmt.Printf("kfake: listening on %s\n", c.ListenAddrs()[0])
	os.Stdout.Sync()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	c.Close()
}
