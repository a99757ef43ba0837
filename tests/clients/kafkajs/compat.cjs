// kafkajs against one broker: producer, a consumer group, admin (createTopics,
// fetchTopicMetadata, describeConfigs, fetchOffsets, resetOffsets, setOffsets, listGroups,
// describeGroups, deleteGroups, createPartitions, fetchTopicOffsetsByTimestamp,
// deleteTopicRecords, describeCluster, deleteTopics) and a transactional producer's commit and
// abort read by consumers with readUncommitted false and true.
//
//   node compat.cjs BOOTSTRAP PREFIX
//
// Prints one line per operation, "ok   NAME" or "FAIL NAME: why", and exits 1 if any failed.
'use strict'
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs')

const [bootstrap, prefix] = process.argv.slice(2)
if (!bootstrap || !prefix) {
  console.error('usage: compat.cjs BOOTSTRAP PREFIX')
  process.exit(2)
}
const kafka = new Kafka({ clientId: 'kappa-compat', brokers: [bootstrap], logLevel: logLevel.NOTHING })
let failed = 0

async function step (name, fn) {
  const t0 = Date.now()
  try {
    await fn()
    console.log(`ok   ${name}`)
    if (process.env.KAPPA_CLIENT_TIMES) console.error(`${Date.now() - t0} ms`)
  } catch (e) {
    failed++
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`)
  }
}
function expect (cond, why) { if (!cond) throw new Error(why) }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const numbered = (p, n) => Array.from({ length: n }, (_, i) => `${p}${i}`)

// Reads `topic` from the beginning in a group of its own until `want` values came (then 1 s more,
// to see that nothing else follows) or 20 s passed.
async function readAll (topic, want, options) {
  const consumer = kafka.consumer({ groupId: `${prefix}_reader_${Math.random()}`, maxWaitTimeInMs: 100, ...options })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const got = []
  await consumer.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()) } })
  for (let i = 0; i < 200 && got.length < want; i++) await sleep(100)
  await sleep(1000)
  await consumer.disconnect()
  return got.sort()
}

async function main () {
  const topic = `${prefix}_data`
  const txnTopic = `${prefix}_txn`
  const group = `${prefix}_group`
  const admin = kafka.admin()
  await admin.connect()

  await step('admin.createTopics(2 partitions, retention.ms; and a transactional topic)', async () => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '123456789' }] },
        { topic: txnTopic, numPartitions: 1, replicationFactor: 1 }
      ]
    })
    expect(created === true, `createTopics answered ${created}`)
  })

  await step('admin.fetchTopicMetadata', async () => {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    expect(topics.length === 1 && topics[0].name === topic, `topics ${JSON.stringify(topics)}`)
    const ids = topics[0].partitions.map(p => p.partitionId).sort()
    expect(JSON.stringify(ids) === '[0,1]', `partitions ${JSON.stringify(topics[0].partitions)}`)
  })

  await step('admin.describeConfigs', async () => {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }]
    })
    const entries = resources[0].configEntries.map(c => [c.configName, c.configValue, c.isDefault])
    expect(JSON.stringify(entries) === '[["retention.ms","123456789",false]]', `described ${JSON.stringify(entries)}`)
  })

  const sent = numbered('v', 20)
  await step('producer.send x20 (keys, headers)', async () => {
    const producer = kafka.producer()
    await producer.connect()
    const r = await producer.send({
      topic,
      acks: -1,
      messages: sent.map((value, i) => ({ key: `k${i % 5}`, value, headers: { origin: 'compat' } }))
    })
    await producer.disconnect()
    expect(r.every(p => p.errorCode === 0), `answered ${JSON.stringify(r)}`)
  })

  const fetchOffsets = async () => {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
    return t.partitions.map(p => [p.partition, p.offset]).sort((a, b) => a[0] - b[0])
  }
  await step('consumer group reads them all and commits', async () => {
    const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    const got = []
    await consumer.run({
      eachMessage: async ({ message }) => {
        expect(message.headers.origin.toString() === 'compat', 'header lost')
        got.push(message.value.toString())
      }
    })
    for (let i = 0; i < 300 && got.length < sent.length; i++) await sleep(100)
    await consumer.disconnect()
    expect(JSON.stringify(got.sort()) === JSON.stringify([...sent].sort()), `read ${got.length} of ${sent.length}`)
    const offsets = await fetchOffsets()
    expect(offsets.reduce((s, [, o]) => s + Number(o), 0) === sent.length, `committed ${JSON.stringify(offsets)}`)
  })

  await step('admin.resetOffsets(earliest)', async () => {
    await admin.resetOffsets({ groupId: group, topic, earliest: true })
    const offsets = await fetchOffsets()
    // kafkajs commits the earliest-offset sentinel itself, -2, as Kafka then answers it back
    expect(JSON.stringify(offsets) === '[[0,"-2"],[1,"-2"]]', `committed ${JSON.stringify(offsets)} after the reset`)
  })

  await step('admin.setOffsets', async () => {
    const [[, end0]] = await fetchEnds(admin, topic)
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '3' }, { partition: 1, offset: '1' }] })
    const offsets = await fetchOffsets()
    expect(Number(end0) >= 3, `partition 0 ends at ${end0}`)
    expect(JSON.stringify(offsets) === '[[0,"3"],[1,"1"]]', `committed ${JSON.stringify(offsets)} after setOffsets`)
  })

  await step('admin.listGroups and describeGroups', async () => {
    const { groups } = await admin.listGroups()
    const listed = groups.find(g => g.groupId === group)
    expect(listed && listed.protocolType === 'consumer', `listed ${JSON.stringify(groups)}`)
    const { groups: [d] } = await admin.describeGroups([group])
    expect(d.groupId === group && d.state === 'Empty' && d.members.length === 0 && d.protocolType === 'consumer',
      `described ${JSON.stringify(d)}`)
  })

  await step('admin.deleteGroups', async () => {
    const [r] = await admin.deleteGroups([group])
    expect(r.groupId === group && r.errorCode === 0, `answered ${JSON.stringify(r)}`)
    const { groups } = await admin.listGroups()
    expect(!groups.some(g => g.groupId === group), 'still listed')
  })

  await step('admin.createPartitions(2 -> 3)', async () => {
    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] })
    let n = 0
    for (let i = 0; i < 50 && n !== 3; i++) {
      n = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length
      if (n !== 3) await sleep(200)
    }
    expect(n === 3, `${n} partitions`)
  })

  await step('admin.fetchTopicOffsetsByTimestamp', async () => {
    // Before every record: the first offsets; after the last: none, which kafkajs turns into
    // the end offsets (an empty partition's is both).
    const sorted = ps => ps.sort((a, b) => a.partition - b.partition)
    const early = sorted(await admin.fetchTopicOffsetsByTimestamp(topic, 1)).map(p => [p.partition, p.offset])
    const late = sorted(await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() + 3600000)).map(p => [p.partition, p.offset])
    const ends = sorted(await admin.fetchTopicOffsets(topic)).map(p => [p.partition, p.high])
    expect(JSON.stringify(early) === '[[0,"0"],[1,"0"],[2,"0"]]', `by timestamp 1: ${JSON.stringify(early)}`)
    expect(JSON.stringify(late) === JSON.stringify(ends), `by a future timestamp: ${JSON.stringify(late)}, ends ${JSON.stringify(ends)}`)
  })

  await step('admin.deleteTopicRecords then fetchTopicOffsets', async () => {
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '2' }] })
    const [p0] = (await admin.fetchTopicOffsets(topic)).filter(p => p.partition === 0)
    expect(p0.low === '2', `partition 0 starts at ${p0.low}`)
  })

  await step('admin.describeCluster', async () => {
    const c = await admin.describeCluster()
    expect(c.brokers.length === 1 && c.clusterId && c.controller !== null && c.controller >= 0, `described ${JSON.stringify(c)}`)
  })

  await step('transaction: commit, abort, commit', async () => {
    const producer = kafka.producer({ transactionalId: `${prefix}_txnid`, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    for (const [values, commit] of [[numbered('committed-', 10), true], [numbered('aborted-', 6), false], [numbered('later-', 4), true]]) {
      const txn = await producer.transaction()
      await txn.send({ topic: txnTopic, messages: values.map(value => ({ key: value, value })) })
      if (commit) await txn.commit(); else await txn.abort()
    }
    await producer.disconnect()
  })

  await step('consumer with readUncommitted false sees the committed transactions only', async () => {
    const want = [...numbered('committed-', 10), ...numbered('later-', 4)].sort()
    const got = await readAll(txnTopic, want.length, { readUncommitted: false })
    expect(JSON.stringify(got) === JSON.stringify(want), `read ${JSON.stringify(got)}`)
  })

  await step('consumer with readUncommitted true sees all three', async () => {
    const got = await readAll(txnTopic, 20, { readUncommitted: true })
    expect(got.length === 20, `read ${got.length} values, want 20`)
  })

  await step('admin.deleteTopics', async () => {
    await admin.deleteTopics({ topics: [topic, txnTopic] })
  })
  await admin.disconnect()
}

async function fetchEnds (admin, topic) {
  const offsets = await admin.fetchTopicOffsets(topic)
  return offsets.map(p => [p.partition, p.high]).sort((a, b) => a[0] - b[0])
}

main().then(() => process.exit(failed ? 1 : 0), e => {
  console.log(`FAIL kafkajs: ${e && e.stack ? e.stack : e}`)
  process.exit(1)
})
