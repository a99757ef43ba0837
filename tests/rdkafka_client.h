// librdkafka for the process tests: an owned client made from settings, bootstrap.servers and
// log_level 3 (errors only) unless the settings say otherwise. A setting librdkafka refuses
// throws, naming it. Header-only, for tests.
#pragma once

#include <librdkafka/rdkafka.h>

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace kappa {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using RdKafkaClient = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;
using RdKafkaConf = std::map<std::string, std::string>;

// `customize` may set callbacks and an opaque on the configuration before the client is made.
inline RdKafkaClient make_rdkafka_client(
    rd_kafka_type_t type, const std::string& bootstrap, const RdKafkaConf& extra,
    const std::function<void(rd_kafka_conf_t*)>& customize = {}) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  RdKafkaConf all = {{"bootstrap.servers", bootstrap}, {"log_level", "3"}};
  for (const auto& [k, v] : extra) all[k] = v;
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(k + ": " + err);
    }
  }
  if (customize) customize(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  return RdKafkaClient(rk);
}

}  // namespace kappa
