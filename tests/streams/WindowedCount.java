// A small Kafka Streams application for the compatibility suite (tests/streams/run.sh): a
// windowed count with processing.guarantee=exactly_once_v2, the shape of a changelog-backed
// stateful job. Modes:
//   produce BOOTSTRAP TOPIC N   creates TOPIC (2 partitions) unless it exists and writes N
//                               records: key k<i%5>, timestamp T0 + i s, so each 10 s window
//                               holds 2 records a key; 1000 records every 0.2 s
//   count BOOTSTRAP IN OUT APP STATE   the Streams application, until killed: counts per key and
//                               10 s window (in-memory window store, changelog topic), writes
//                               "key@windowStart" -> count to OUT
//   read BOOTSTRAP OUT          reads OUT with isolation.level=read_committed from the start
//                               until it is quiet for 3 s; prints the last count of each key,
//                               sorted, one "key count" line each
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;
import org.apache.kafka.streams.state.*;

public class WindowedCount {
  static final long T0 = 1_700_000_000_000L;

  public static void main(String[] a) throws Exception {
    switch (a[0]) {
      case "produce" -> produce(a[1], a[2], Integer.parseInt(a[3]));
      case "count" -> count(a[1], a[2], a[3], a[4], a[5]);
      case "read" -> read(a[1], a[2]);
      default -> throw new IllegalArgumentException("mode: produce, count or read");
    }
  }

  static void produce(String bootstrap, String topic, int n) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    try (Admin admin = Admin.create(p)) {
      if (!admin.listTopics().names().get().contains(topic)) {
        admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
      }
    }
    p.put("acks", "all");
    p.put("enable.idempotence", "true");
    try (KafkaProducer<String, String> producer =
        new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
      for (int i = 0; i < n; i++) {
        producer.send(new ProducerRecord<>(topic, null, T0 + i * 1000L, "k" + (i % 5), "v" + i));
        if (i % 1000 == 999) {
          producer.flush();
          Thread.sleep(200);
        }
      }
      producer.flush();
    }
    System.out.println("produced " + n);
  }

  static void count(String bootstrap, String in, String out, String app, String state) {
    Properties p = new Properties();
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
    p.put(StreamsConfig.STATE_DIR_CONFIG, state);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    // The killed instance leaves the group when its session expires: keep that short.
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);
    StreamsBuilder b = new StreamsBuilder();
    b.stream(in, Consumed.with(Serdes.String(), Serdes.String()))
        .groupByKey()
        .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(10)))
        .count(Materialized.<String, Long>as(Stores.inMemoryWindowStore("counts",
                Duration.ofDays(3650), Duration.ofSeconds(10), false))
            .withKeySerde(Serdes.String()).withValueSerde(Serdes.Long()))
        .toStream()
        .map((w, c) -> KeyValue.pair(w.key() + "@" + w.window().start(), Long.toString(c)))
        .to(out, Produced.with(Serdes.String(), Serdes.String()));
    KafkaStreams streams = new KafkaStreams(b.build(), p);
    streams.setStateListener((now, before) -> {
      System.out.println("state " + now);
      System.out.flush();
    });
    streams.start();
  }

  static void read(String bootstrap, String topic) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("isolation.level", "read_committed");
    p.put("auto.offset.reset", "earliest");
    p.put("enable.auto.commit", "false");
    p.put("group.id", "reader-" + UUID.randomUUID());
    TreeMap<String, String> last = new TreeMap<>();
    try (KafkaConsumer<String, String> c =
        new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
      c.subscribe(List.of(topic));
      long quiet = System.currentTimeMillis();
      while (System.currentTimeMillis() - quiet < 3000) {
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
          last.put(r.key(), r.value());
          quiet = System.currentTimeMillis();
        }
      }
    }
    last.forEach((k, v) -> System.out.println(k + " " + v));
  }
}
