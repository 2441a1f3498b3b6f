# The cluster run: the suites about messaging in general registered a second time in ctest, against the
# 3-node RabbitMQ cluster of the `cluster.start` fixture instead of Mosquitto (label `cluster`, names
# prefixed `cluster.`). The test binaries are the same: FBM_RMQ_BASE tells tests/support/test_broker.cpp
# to hand out the cluster's nodes, round robin, so the components of one test are spread over them.
#
# Every test of the cluster run holds RESOURCE_LOCK rabbitmq_cluster: the tests share the cluster and the
# reference topics (general/researcher, general/nodes) that a test on its own Mosquitto has to itself, so
# they run one at a time there. Tests that kill a RabbitMQ node are also RUN_SERIAL (nothing else runs
# while a node is down and restarts: both cores go to the Erlang VM booting).

# What does not run on the cluster, one entry per test (or suite) with the reason: a documented difference
# of the cluster (docs/deploy.md, "What differs from Mosquitto") or a Mosquitto-only feature the test is
# about. A test that starts a MosquittoBroker of its own throws in the cluster run (mosquitto_broker.cpp),
# so a test missing here fails loudly instead of testing Mosquitto twice.
set(FBM_CLUSTER_EXCLUDED
    # -- about Mosquitto itself: its log, its configuration, or a broker of its own stopped and started --
    "MessagingApi.StartTwiceIsHarmless"                          # counts CONNECTs in Mosquitto's log
    "MessagingApi.StopSendsACleanDisconnectAndIsSafeTwiceAndFromTheDestructor"  # Mosquitto's log
    "MessagingApi.MqttVersionIsExplicit"                         # Mosquitto's log; MQTT 5 (3.1.1 only here)
    "MessagingApi.WithoutAPersistentSessionTheBrokerAssignsTheClientId"  # its own Mosquitto, its log
    "KeepAwake.*"               # counts UNSUBSCRIBEs in Mosquitto's log
    "StalledWrites.*"           # freezes a Mosquitto of its own (SIGSTOP); the cluster is never frozen
    "MessagingConnect.BrokerDownIsAnFb101SayingConnectionRefused"  # no broker at all: nothing to run twice
    "MessagingConnect.UnknownHostIsAnFb101SayingUnknownHost"       # no broker at all
    "MessagingConnect.AnonymousClientOnAPasswordBrokerIsNotAuthorised"  # Mosquitto's password file (the
                                # cluster's users: Cluster.AForbidden*)
    "MessagingConnect.WrongPasswordIsRefusedAndTheRightOneConnects"  # Mosquitto's password file
    "MessagingConnect.Mqtt5RefusalNamesTheReasonCode"    # MQTT 5 reason codes: RabbitMQ 3.10 is 3.1.1 only
    "MessagingConnect.ABrokerThatClosesAnMqtt5ConnectionIsSpokenToInMqtt311"  # a fake broker
    "MessagingConnect.EveryConnackRefusalCodeIsNamed"    # a fake broker
    "MessagingConnect.SilentBrokerIsATimeout"            # a fake broker
    "MessagingConnect.ALateConnackAfterTheDeadlineConnectsNothing"  # a fake broker
    "MessagingConnect.StartSucceedsOnceTheBrokerIsBack"  # a broker absent at start (one of its own)
    "MessagingConnect.TlsListenerWithTheRightCaWorksAndAWrongCaIsRefused"  # a TLS listener (none here)
    "MessagingDelivery.StopFailsWhatTheBrokerNeverAcknowledged"  # pauses (SIGSTOP) a broker of its own
    "MessagingDelivery.ALostConnectionIsNoticedReportedAndLaterSendsWaitForTheReconnection"  # own broker killed
    "LogForwarding.LoggingNeverBlocksAndUnsentRecordsAreCounted"      # pauses a broker of its own
    "LogForwarding.RecordsLoggedWhileDisconnectedAreCountedAsDropped"  # kills a broker of its own
    "Reconnect.*"               # restarts, stops or kills a broker of its own (with and without
                                # persistence), reads Mosquitto's log, or uses no broker at all (a free
                                # port, a client id Paho refuses); node kills on the cluster: Cluster.*
    "Failover.*"                # two or three independent Mosquittos, a fake silent one; on the
                                # cluster: Cluster.Killing* and ProgramsOnCluster.*
    "MutualTls.*"               # TLS listeners (the test cluster has none)
    "ShippedAcl.*"              # Mosquitto's acl_file syntax (the cluster's ACL: Cluster.AForbidden*)
    "SubscriptionRefusal.*"     # fake brokers and Mosquitto's max_qos (the cluster refuses by closing
                                # the connection: Cluster.AForbidden*)
    "Attack.ForgedPresenceRecordsNeitherStopNorDisconnectANodeOrAResearcher"  # reads the components'
                                # retained presence records from other clients: retained messages are
                                # per node on the cluster
    "Attack.ForgedPresenceRecordsNeitherStopNorDisconnectANodeOrAResearcherWithMqtt5"  # MQTT 5 (RabbitMQ
                                # 3.10 speaks 3.1.1 only); retained records as above
    "Attack.AFloodOfMadeUpNodesFillsTheResearchersPresenceTrackingOnlyUpToItsBound"  # 10 050 presence
                                # topics: about the component's bound, not the broker; minutes on the cluster
    "Attack.AnAclThatRefusesThePresenceRecordIsReportedOnceWithMqtt5"  # Mosquitto's acl_file; MQTT 5
    "EndToEnd.*"                # end-to-end acknowledgement needs MQTT 5: RabbitMQ 3.10 speaks 3.1.1 only
    "SignedMessages.*"          # signatures travel in MQTT 5 user properties: RabbitMQ 3.10 speaks 3.1.1
                                # only (a signing component refuses to connect unsigned there)
    "SignedMessagesCost.*"      # the same (a measurement of signed round trips)
    "Fault.BrokerRestartedCleanlyMidStreamLosesNothing"  # restarts the whole broker; end-to-end (MQTT 5)
    "Fault.BrokerKilledMidStreamWithoutEndToEndResendsWhatTheBrokerDidNotAcknowledge"  # whole broker
                                # killed; on the cluster one node of three: Cluster.Killing*
    "Fault.BrokerKilledTenTimesMidStreamWithDefaultOptionsDeliversExactlyOnce"  # end-to-end (MQTT 5)
    "Fault.KeepTryingConnectsWhenTheBrokerAppears"   # a broker absent at start (one of its own)
    "Fault.FailFastStartGivesUpWithFb101AfterOneAttempt"  # a broker absent at start (one of its own)
    "Fault.AStalledNetworkIsDetectedAndRecovered"    # a stalling proxy in front of a broker of its own
    "Fault.AStalledNetworkIsDetectedOnTheComponentThatKeepsItsProcessAwake"  # the same
    "Fault.DuplicateIdsAreDetectedOnBothProcessesWithMqtt5"  # MQTT 5: RabbitMQ 3.10 speaks 3.1.1 only
    "Presence.AResearcherFollowsNodesComingAndGoing"  # retained presence records are per node on the
                                # cluster: a researcher on node 1 does not see a node announced on node 2
    "Presence.ReferenceTopicsCarryNothingButTheReferenceTraffic"  # counts all traffic of a broker of its own
    "Presence.ARetainedOnlineRecordWhoseHeartbeatsNeverComeExpires"  # a record retained through another
                                # node is not seen (per node); the cluster's own heartbeat test:
                                # Cluster.PresenceFollowsANodeOnAnotherRabbitMqNodeThroughItsHeartbeats
    "Presence.HeartbeatsAreLiveCopiesOfTheOnlineRecord"  # reads the retained record from another node
    # -- the programs --
    "ProgramsTest.NodeAnswersAgainAfterTheBrokerRestarts"  # restarts a broker of its own; on the
                                # cluster: ProgramsOnCluster.*
    "ProgramsTest.NodeWithABrokerListAnswersBeforeAndAfterItsBrokerIsKilled"  # two Mosquittos; on the
                                # cluster: ProgramsOnCluster.*
    "ProgramsTest.NodeStopsCleanlyOnSigtermAndSigint"  # reads Mosquitto's log
    "NodeUnderAttack.*"         # Mosquitto's max_packet_size and log
    "SecureFederation.*"        # TLS listeners and Mosquitto's ACL file
    "SignedFederation.*"        # signed messages need MQTT 5 (RabbitMQ 3.10: 3.1.1 only)
    "ProgramsSigningUsage.*"    # no broker: nothing to run twice
    "ProgramsSecurityUsage.*"   # Mosquitto's password file
    "ProgramsUsage.*"           # no broker: nothing to run twice
)

# Registers the tests of @p target for the cluster run: all but FBM_CLUSTER_EXCLUDED, with those matching
# the gtest filter KILLS (tests that kill a RabbitMQ node) RUN_SERIAL. TIMEOUT: each test's ctest timeout
# on Mosquitto; the cluster run adds FBM_CLUSTER_CHECK_S, the bound of the check that every node answers
# before the test starts (rabbitmq_cluster.sh check: 240 s, and a probe under way), so that a test that
# waited for the cluster still fails on its own waits, saying why, rather than by ctest's kill.
set(FBM_CLUSTER_CHECK_S 270)
function(fbm_add_cluster_run target)
    cmake_parse_arguments(ARG "" "TIMEOUT;KILLS" "" ${ARGN})
    math(EXPR ARG_TIMEOUT "${ARG_TIMEOUT} + ${FBM_CLUSTER_CHECK_S}")
    list(JOIN FBM_CLUSTER_EXCLUDED ":" excluded)
    set(common LABELS cluster FIXTURES_REQUIRED rabbitmq_cluster RESOURCE_LOCK rabbitmq_cluster
        ENVIRONMENT "FBM_RMQ_BASE=${FBM_RMQ_BASE}" TIMEOUT ${ARG_TIMEOUT}
        SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
    set(filter "-${excluded}")
    if(ARG_KILLS)
        set(filter "${filter}:${ARG_KILLS}")
        gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 TEST_PREFIX "cluster." TEST_FILTER "${ARG_KILLS}"
            PROPERTIES ${common} RUN_SERIAL TRUE)
    endif()
    gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 TEST_PREFIX "cluster." TEST_FILTER "${filter}"
        PROPERTIES ${common})
endfunction()
