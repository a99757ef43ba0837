// franz-go against one broker: kgo (produce, a consumer group, transactions committed and
// aborted read by read_committed and read_uncommitted consumers, a transactional producer fenced
// by a second one with its id, a GroupTransactSession's consume-transform-produce, a static
// member replaced by the next client with its instance id) and kadm (ListTopics, CreateTopics, DescribeTopicConfigs,
// AlterTopicConfigs, ListGroups, DescribeGroups, Lag, DeleteOffsets, DeleteGroups,
// CreatePartitions, ListEndOffsets, ListMaxTimestampOffsets, DeleteRecords, ListStartOffsets,
// ValidateCreateTopics, BrokerMetadata, DescribeBrokerConfigs, DeleteTopics).
//
//	go run . BOOTSTRAP PREFIX
//
// Prints one line per operation, "ok   NAME" or "FAIL NAME: why", and exits 1 if any failed.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var failed int

func check(name string, err error) bool {
	if err != nil {
		failed++
		fmt.Printf("FAIL %s: %v\n", name, err)
		return false
	}
	fmt.Printf("ok   %s\n", name)
	return true
}

func newClient(bootstrap string, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap)}, opts...)...)
	if err != nil {
		fmt.Printf("FAIL client: %v\n", err)
		os.Exit(1)
	}
	return cl
}

// poll reads from cl until want records came or the time ran out.
func poll(ctx context.Context, cl *kgo.Client, want int, d time.Duration) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var got []*kgo.Record
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		for _, e := range fs.Errors() {
			return got, fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	return got, nil
}

func values(rs []*kgo.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, string(r.Value))
	}
	sort.Strings(out)
	return out
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func records(topic string, vals []string) []*kgo.Record {
	out := make([]*kgo.Record, len(vals))
	for i, v := range vals {
		out[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(v)}
	}
	return out
}

// batchOf produces vals in one committed transaction of cl.
func batchOf(ctx context.Context, cl *kgo.Client, topic string, vals []string) error {
	if err := cl.BeginTransaction(); err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, records(topic, vals)...).FirstErr(); err != nil {
		return err
	}
	return cl.EndTransaction(ctx, kgo.TryCommit)
}

func staticMembers(ctx context.Context, bootstrap string, adm *kadm.Client, topic, group string) error {
	member := func() (*kgo.Client, error) {
		c := newClient(bootstrap, kgo.ConsumerGroup(group), kgo.InstanceID("static-1"), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.SessionTimeout(6*time.Second))
		if _, err := poll(ctx, c, 1, 30*time.Second); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	describe := func(when string) error {
		d, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			err = d.Error()
		}
		if err != nil {
			return err
		}
		g := d[group]
		if g.State != "Stable" || len(g.Members) != 1 || g.Members[0].InstanceID == nil || *g.Members[0].InstanceID != "static-1" {
			ids := []string{}
			for _, m := range g.Members {
				if m.InstanceID != nil {
					ids = append(ids, *m.InstanceID)
				}
			}
			return fmt.Errorf("%s: state %s, %d members, instance ids %v; want Stable, 1, [static-1]", when, g.State, len(g.Members), ids)
		}
		return nil
	}
	first, err := member()
	if err != nil {
		return err
	}
	if err = describe("with the first member"); err != nil {
		first.Close()
		return err
	}
	first.Close()
	if err = describe("after the first closed"); err != nil {
		return err
	}
	// Kafka hands the instance's place to the replacement at once, without a rebalance; waiting
	// for the closed member's session to time out (6 s) instead would be a rebalance.
	began := time.Now()
	second, err := member()
	if err != nil {
		return err
	}
	defer second.Close()
	if took := time.Since(began); took > 3*time.Second {
		return fmt.Errorf("the replacement took %.1f s to join and read", took.Seconds())
	}
	return describe("with its replacement")
}

// transformOnce reads in (1 partition) in a GroupTransactSession of group and writes "out-" +
// each value to out: the first transaction is aborted, the next ones committed, until the
// session has committed 12 records.
func transformOnce(ctx context.Context, bootstrap, prefix, in, out, group string) error {
	s, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(bootstrap), kgo.TransactionalID(prefix+"_eos"),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RequireStableFetchOffsets())
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	done, aborted := 0, false
	for done < 12 {
		fs := s.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("%d of 12 committed when the time ran out", done)
		}
		for _, e := range fs.Errors() {
			return fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err)
		}
		var outs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			outs = append(outs, &kgo.Record{Topic: out, Key: r.Key, Value: append([]byte("out-"), r.Value...)})
		})
		if len(outs) == 0 {
			continue
		}
		if err := s.Begin(); err != nil {
			return err
		}
		if err := s.ProduceSync(ctx, outs...).FirstErr(); err != nil {
			return err
		}
		end := kgo.TryCommit
		if !aborted {
			end, aborted = kgo.TryAbort, true
		}
		committed, err := s.End(ctx, end)
		if err != nil {
			return err
		}
		if committed {
			done += len(outs)
		}
	}
	if done != 12 {
		return fmt.Errorf("%d records committed, want 12", done)
	}
	return nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: franz_go BOOTSTRAP PREFIX")
		os.Exit(2)
	}
	bootstrap, prefix := os.Args[1], os.Args[2]
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	topic, txnTopic, group := prefix+"_data", prefix+"_txn", prefix+"_group"

	base := newClient(bootstrap)
	defer base.Close()
	adm := kadm.NewClient(base)

	// kadm CreateTopics with configs, ListTopics.
	retention := "123456789"
	created, err := adm.CreateTopics(ctx, 3, 1, map[string]*string{"retention.ms": &retention}, topic)
	if err == nil {
		err = created.Error()
	}
	check("kadm.CreateTopics(3 partitions, retention.ms)", err)
	created, err = adm.CreateTopics(ctx, 1, 1, nil, txnTopic)
	if err == nil {
		err = created.Error()
	}
	check("kadm.CreateTopics(transactional topic)", err)

	listed, err := adm.ListTopics(ctx)
	if err == nil {
		if d, ok := listed[topic]; !ok {
			err = fmt.Errorf("%s not listed among %v", topic, listed.Names())
		} else if len(d.Partitions) != 3 {
			err = fmt.Errorf("%s has %d partitions, want 3", topic, len(d.Partitions))
		}
	}
	check("kadm.ListTopics", err)

	// DescribeTopicConfigs, AlterTopicConfigs (incremental) and the value described back.
	describedValue := func(key string) (string, error) {
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			return "", err
		}
		rc, err := rcs.On(topic, nil)
		if err != nil {
			return "", err
		}
		if rc.Err != nil {
			return "", rc.Err
		}
		for _, c := range rc.Configs {
			if c.Key == key {
				if c.Value == nil {
					return "", fmt.Errorf("%s has no value", key)
				}
				return *c.Value + " (" + c.Source.String() + ")", nil
			}
		}
		return "", fmt.Errorf("%s not described among %d configs", key, len(rc.Configs))
	}
	v, err := describedValue("retention.ms")
	if err == nil && v != "123456789 (DYNAMIC_TOPIC_CONFIG)" {
		err = fmt.Errorf("retention.ms described as %s, want 123456789 (DYNAMIC_TOPIC_CONFIG)", v)
	}
	check("kadm.DescribeTopicConfigs", err)
	altered := "987654321"
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &altered}}, topic)
	if err == nil {
		for _, r := range alt {
			if r.Err != nil {
				err = fmt.Errorf("%s: %v %s", r.Name, r.Err, r.ErrMessage)
			}
		}
	}
	for deadline := time.Now().Add(10 * time.Second); err == nil; time.Sleep(200 * time.Millisecond) {
		// Kafka applies an alteration through its metadata log: it may be described a moment later.
		if v, err = describedValue("retention.ms"); err == nil && v == "987654321 (DYNAMIC_TOPIC_CONFIG)" {
			break
		}
		if err == nil && time.Now().After(deadline) {
			err = fmt.Errorf("retention.ms described as %s 10 s after the alter, want 987654321", v)
		}
	}
	check("kadm.AlterTopicConfigs then described back", err)

	// kgo produce, and a consumer group reading it all and committing.
	sent := numbered("v", 30)
	check("kgo.ProduceSync(30 records)", base.ProduceSync(ctx, records(topic, sent)...).FirstErr())

	member := newClient(bootstrap, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	got, err := poll(ctx, member, len(sent), 40*time.Second)
	if err == nil && strings.Join(values(got), ",") != strings.Join(values(records(topic, sent)), ",") {
		err = fmt.Errorf("the group read %d records, want the 30 sent", len(got))
	}
	check("kgo consumer group reads everything", err)
	check("kgo.CommitUncommittedOffsets", member.CommitUncommittedOffsets(ctx))

	groups, err := adm.ListGroups(ctx)
	if err == nil {
		if g, ok := groups[group]; !ok {
			err = fmt.Errorf("%s not listed among %v", group, groups.Groups())
		} else if g.ProtocolType != "consumer" {
			err = fmt.Errorf("protocol type %q", g.ProtocolType)
		}
	}
	check("kadm.ListGroups", err)
	described, err := adm.DescribeGroups(ctx, group)
	if err == nil {
		err = described.Error()
	}
	if err == nil {
		d := described[group]
		if d.State != "Stable" || len(d.Members) != 1 || d.ProtocolType != "consumer" {
			err = fmt.Errorf("state %q, %d members, protocol type %q; want Stable, 1, consumer", d.State, len(d.Members), d.ProtocolType)
		} else if a := described.AssignedPartitions(); len(a[topic]) != 3 {
			err = fmt.Errorf("assigned %v, want the 3 partitions of %s", a, topic)
		}
	}
	check("kadm.DescribeGroups", err)
	member.Close() // leaves the group

	check("kgo.ProduceSync(5 more)", base.ProduceSync(ctx, records(topic, numbered("more", 5))...).FirstErr())
	lags, err := adm.Lag(ctx, group)
	if err == nil {
		l := lags[group]
		if err = l.Error(); err == nil && l.Lag.Total() != 5 {
			err = fmt.Errorf("lag %d, want 5 (state %s)", l.Lag.Total(), l.State)
		}
	}
	check("kadm.Lag", err)

	// OffsetDelete of one partition of the (now empty) group.
	do, err := adm.DeleteOffsets(ctx, group, kadm.TopicsSet{topic: {0: {}}})
	if err == nil {
		err = do.Error()
	}
	if err == nil {
		var fetched kadm.OffsetResponses
		if fetched, err = adm.FetchOffsets(ctx, group); err == nil {
			if _, ok := fetched.Lookup(topic, 0); ok {
				err = errors.New("partition 0's offset is still committed")
			} else if _, ok := fetched.Lookup(topic, 1); !ok {
				err = errors.New("partition 1's offset went too")
			}
		}
	}
	check("kadm.DeleteOffsets(one partition)", err)

	deleted, err := adm.DeleteGroups(ctx, group)
	if err == nil {
		if r := deleted[group]; r.Err != nil {
			err = r.Err
		}
	}
	if err == nil {
		if groups, err = adm.ListGroups(ctx); err == nil {
			if _, ok := groups[group]; ok {
				err = errors.New("the group is still listed after DeleteGroups")
			}
		}
	}
	check("kadm.DeleteGroups", err)

	// Static membership (KIP-345): a member with an instance id that closes stays in the group
	// (it does not leave), and the next client with that id takes its place.
	err = staticMembers(ctx, bootstrap, adm, topic, prefix+"_static")
	check("kgo static member (InstanceID) stays when closed, replaced by the next with its id", err)

	// More topic admin: CreatePartitions, offsets by ListOffsets, DeleteRecords, refusals.
	cp, err := adm.CreatePartitions(ctx, 1, topic)
	if err == nil {
		err = cp.Error()
	}
	for deadline := time.Now().Add(15 * time.Second); err == nil; time.Sleep(200 * time.Millisecond) {
		// Kafka's metadata may show the new partition a moment later.
		if listed, err = adm.ListTopics(ctx, topic); err == nil && len(listed[topic].Partitions) == 4 {
			break
		}
		if err == nil && time.Now().After(deadline) {
			err = fmt.Errorf("%d partitions after adding one to 3", len(listed[topic].Partitions))
		}
	}
	check("kadm.CreatePartitions(+1)", err)

	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	var total int64
	if err == nil {
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if o, _ := ends.Lookup(topic, 3); total != 35 || o.Offset != 0 {
			err = fmt.Errorf("end offsets add up to %d (want 35), the new partition's is %d", total, o.Offset)
		}
	}
	check("kadm.ListEndOffsets", err)
	maxes, err := adm.ListMaxTimestampOffsets(ctx, topic)
	if err == nil {
		err = maxes.Error()
	}
	if err == nil {
		maxes.Each(func(o kadm.ListedOffset) {
			end, _ := ends.Lookup(topic, o.Partition)
			if end.Offset == 0 && (o.Offset != -1 || o.Timestamp != -1) {
				err = fmt.Errorf("empty partition %d: offset %d timestamp %d, want -1 -1", o.Partition, o.Offset, o.Timestamp)
			} else if end.Offset > 0 && (o.Offset < 0 || o.Offset >= end.Offset || o.Timestamp <= 0) {
				err = fmt.Errorf("partition %d (end %d): offset %d timestamp %d", o.Partition, end.Offset, o.Offset, o.Timestamp)
			}
		})
	}
	check("kadm.ListMaxTimestampOffsets", err)

	var cut kadm.Offsets = kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 2}}}
	dr, err := adm.DeleteRecords(ctx, cut)
	if err == nil {
		if r, ok := dr.Lookup(topic, 0); !ok || r.Err != nil || r.LowWatermark != 2 {
			err = fmt.Errorf("answered %+v", r)
		}
	}
	if err == nil {
		var starts kadm.ListedOffsets
		if starts, err = adm.ListStartOffsets(ctx, topic); err == nil {
			if o, _ := starts.Lookup(topic, 0); o.Offset != 2 {
				err = fmt.Errorf("partition 0 starts at %d after DeleteRecords to 2", o.Offset)
			}
		}
	}
	check("kadm.DeleteRecords then ListStartOffsets", err)

	again, err := adm.CreateTopics(ctx, 1, 1, nil, topic)
	if err == nil {
		if r := again[topic]; !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			err = fmt.Errorf("creating it again answered %v", r.Err)
		}
	}
	check("kadm.CreateTopics of an existing topic: TOPIC_ALREADY_EXISTS", err)
	bogus := "sometimes"
	bad, err := adm.CreateTopics(ctx, 1, 1, map[string]*string{"cleanup.policy": &bogus}, prefix+"_bad")
	if err == nil {
		if r := bad[prefix+"_bad"]; !errors.Is(r.Err, kerr.InvalidConfig) {
			err = fmt.Errorf("cleanup.policy=sometimes answered %v", r.Err)
		}
	}
	valid, verr := adm.ValidateCreateTopics(ctx, 2, 1, nil, prefix+"_validated")
	if err == nil && verr == nil {
		verr = valid.Error()
	}
	if err == nil {
		err = verr
	}
	if err == nil {
		if listed, err = adm.ListTopics(ctx); err == nil && (listed.Has(prefix+"_bad") || listed.Has(prefix+"_validated")) {
			err = errors.New("a refused or validate-only topic was created")
		}
	}
	check("kadm.CreateTopics refusing a bad config; ValidateCreateTopics creating nothing", err)

	meta, err := adm.BrokerMetadata(ctx)
	if err == nil && (len(meta.Brokers) != 1 || meta.Controller < 0 || meta.Cluster == "") {
		err = fmt.Errorf("brokers %v, controller %d, cluster %q", meta.Brokers, meta.Controller, meta.Cluster)
	}
	if err == nil {
		var bc kadm.ResourceConfigs
		if bc, err = adm.DescribeBrokerConfigs(ctx, meta.Brokers[0].NodeID); err == nil {
			if len(bc) != 1 || bc[0].Err != nil || len(bc[0].Configs) == 0 {
				err = fmt.Errorf("described %+v", bc)
			}
		}
	}
	check("kadm.BrokerMetadata and DescribeBrokerConfigs", err)

	// A transaction committed, one aborted, one more committed; read_committed sees the two.
	txn := newClient(bootstrap, kgo.TransactionalID(prefix+"_txnid"), kgo.DefaultProduceTopic(txnTopic))
	batch := func(vals []string, commit kgo.TransactionEndTry) error {
		if err := txn.BeginTransaction(); err != nil {
			return err
		}
		if err := txn.ProduceSync(ctx, records(txnTopic, vals)...).FirstErr(); err != nil {
			return err
		}
		return txn.EndTransaction(ctx, commit)
	}
	check("kgo transaction committed", batch(numbered("committed-", 10), kgo.TryCommit))
	check("kgo transaction aborted", batch(numbered("aborted-", 6), kgo.TryAbort))
	check("kgo transaction committed again", batch(numbered("later-", 4), kgo.TryCommit))
	txn.Close()

	// A zombie: a second producer with the same transactional id fences the first, whose open
	// transaction is aborted and whose commit then fails.
	zombieTopic := prefix + "_fenced"
	created, err = adm.CreateTopics(ctx, 1, 1, nil, zombieTopic)
	if err == nil {
		err = created.Error()
	}
	if err == nil {
		zombie := newClient(bootstrap, kgo.TransactionalID(prefix+"_zombie"), kgo.DefaultProduceTopic(zombieTopic))
		successor := newClient(bootstrap, kgo.TransactionalID(prefix+"_zombie"), kgo.DefaultProduceTopic(zombieTopic))
		if err = zombie.BeginTransaction(); err == nil {
			err = zombie.ProduceSync(ctx, records(zombieTopic, []string{"zombie"})...).FirstErr()
		}
		if err == nil {
			err = batchOf(ctx, successor, zombieTopic, []string{"successor"})
		}
		if err == nil {
			if zerr := zombie.EndTransaction(ctx, kgo.TryCommit); zerr == nil {
				err = errors.New("the fenced producer's commit succeeded")
			} else if !errors.Is(zerr, kerr.ProducerFenced) && !errors.Is(zerr, kerr.InvalidProducerEpoch) {
				err = fmt.Errorf("the fenced producer's commit failed with %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", zerr)
			}
		}
		zombie.Close()
		successor.Close()
	}
	if err == nil {
		c := newClient(bootstrap, kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{zombieTopic: {0: kgo.NewOffset().AtStart()}}))
		var rs []*kgo.Record
		if rs, err = poll(ctx, c, 1, 20*time.Second); err == nil {
			more, _ := poll(ctx, c, 1, 500*time.Millisecond)
			if got := values(append(rs, more...)); strings.Join(got, ",") != "successor" {
				err = fmt.Errorf("read_committed read %v, want [successor]", got)
			}
		}
		c.Close()
	}
	check("kgo transactional producer fenced by a second one with its id", err)

	// Consume-transform-produce in a GroupTransactSession: the first transaction aborted (its
	// records never seen, its offsets not committed, so the input is read again), then committed
	// ones until every input record is transformed exactly once.
	eosIn, eosOut, eosGroup := prefix+"_eos_in", prefix+"_eos_out", prefix+"_eos_group"
	created, err = adm.CreateTopics(ctx, 1, 1, nil, eosIn, eosOut)
	if err == nil {
		err = created.Error()
	}
	if err == nil {
		err = base.ProduceSync(ctx, records(eosIn, numbered("in-", 12))...).FirstErr()
	}
	if err == nil {
		err = transformOnce(ctx, bootstrap, prefix, eosIn, eosOut, eosGroup)
	}
	if err == nil {
		c := newClient(bootstrap, kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{eosOut: {0: kgo.NewOffset().AtStart()}}))
		var rs []*kgo.Record
		if rs, err = poll(ctx, c, 12, 20*time.Second); err == nil {
			more, _ := poll(ctx, c, 1, 500*time.Millisecond)
			want := values(records(eosOut, numbered("out-in-", 12)))
			if got := values(append(rs, more...)); strings.Join(got, ",") != strings.Join(want, ",") {
				err = fmt.Errorf("read_committed read %v from the output, want %v", got, want)
			}
		}
		c.Close()
	}
	if err == nil {
		var fetched kadm.OffsetResponses
		if fetched, err = adm.FetchOffsets(ctx, eosGroup); err == nil {
			if o, ok := fetched.Lookup(eosIn, 0); !ok || o.At != 12 {
				err = fmt.Errorf("the group committed %+v, want 12", o)
			}
		}
	}
	check("kgo GroupTransactSession: abort, then commit each input once (TxnOffsetCommit)", err)

	readFrom := func(level kgo.IsolationLevel, want int) ([]string, error) {
		c := newClient(bootstrap, kgo.FetchIsolationLevel(level),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{txnTopic: {0: kgo.NewOffset().AtStart()}}))
		defer c.Close()
		rs, err := poll(ctx, c, want, 20*time.Second)
		if err != nil {
			return nil, err
		}
		more, _ := poll(ctx, c, 1, 500*time.Millisecond) // nothing past them
		return values(append(rs, more...)), nil
	}
	want := values(records(txnTopic, append(numbered("committed-", 10), numbered("later-", 4)...)))
	vals, err := readFrom(kgo.ReadCommitted(), len(want))
	if err == nil && strings.Join(vals, ",") != strings.Join(want, ",") {
		err = fmt.Errorf("read %v, want %v", vals, want)
	}
	check("kgo read_committed sees the committed transactions only", err)
	vals, err = readFrom(kgo.ReadUncommitted(), 20)
	if err == nil && len(vals) != 20 {
		err = fmt.Errorf("read %d records, want 20", len(vals))
	}
	check("kgo read_uncommitted sees all three", err)

	dt, err := adm.DeleteTopics(ctx, topic, txnTopic, zombieTopic, eosIn, eosOut)
	if err == nil {
		err = dt.Error()
	}
	for deadline := time.Now().Add(15 * time.Second); err == nil; time.Sleep(200 * time.Millisecond) {
		// Kafka's metadata may list a deleted topic for a moment.
		if listed, err = adm.ListTopics(ctx); err == nil && !listed.Has(topic) && !listed.Has(txnTopic) {
			break
		}
		if err == nil && time.Now().After(deadline) {
			err = errors.New("a deleted topic is still listed after 15 s")
		}
	}
	check("kadm.DeleteTopics", err)

	if failed > 0 {
		os.Exit(1)
	}
}
