using System.Collections.Concurrent;
using System.Globalization;
using Cluster.Grains.Streaming;
using Cluster.Grains;
using Cluster.Grains.Interfaces.Streams;
using Cluster.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Streams;
using Orleans.Streams.Core;
using Orleans.TestingHost;
using StackExchange.Redis;

namespace Cluster.IntegrationTests.Streaming;

/// <summary>What the tests publish.</summary>
[GenerateSerializer, Alias("tests.streaming.event")]
public sealed record StreamTestEvent([property: Id(0)] int Number);

/// <summary>One event as a consumer grain received it.</summary>
public sealed record Delivery(string Namespace, int Number, RedisStreamSequenceToken Token);

/// <summary>
/// Where the consumer grains of every silo (all in this process) report what they received, per stream key; and a gate
/// per stream key that holds deliveries back until a test opens it (true: record them, false: drop them unrecorded).
/// </summary>
public static class StreamSink
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<Delivery>> Received = new();
    private static readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> Gates = new();
    private static readonly Task<bool> Open = Task.FromResult(true);

    public static void Record(string streamKey, Delivery delivery) => Received.GetOrAdd(streamKey, _ => new()).Enqueue(delivery);

    public static IReadOnlyList<Delivery> Of(string streamKey) => Received.TryGetValue(streamKey, out var queue) ? [.. queue] : [];

    public static Task<bool> PassAsync(string streamKey) => Gates.TryGetValue(streamKey, out var gate) ? gate.Task : Open;

    /// <summary>Holds back deliveries on <paramref name="streamKey"/>; returns the gate to settle them with.</summary>
    public static TaskCompletionSource<bool> Close(string streamKey) =>
        Gates[streamKey] = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets later deliveries through; those already waiting stay on the gate <see cref="Close"/> returned.</summary>
    public static void Reopen(string streamKey) => Gates.TryRemove(streamKey, out _);

    /// <summary>Waits until <paramref name="count"/> events of <paramref name="streamKey"/> have been received.</summary>
    public static Task<IReadOnlyList<Delivery>> WaitForAsync(string streamKey, int count, TimeSpan? within = null) =>
        Eventually.HoldsAsync(() => Task.FromResult(Of(streamKey)), d => d.Count >= count, within ?? TimeSpan.FromSeconds(30), $"{count} events on {streamKey}");
}

public interface IStreamPublisherGrain : IGrainWithGuidKey
{
    /// <summary>Publishes events numbered <paramref name="first"/>… one call (one Redis entry) each, in order.</summary>
    Task PublishAsync(string provider, string streamNamespace, string key, int first, int count);

    /// <summary>Publishes the events in one call: one Redis entry.</summary>
    Task PublishBatchAsync(string provider, string streamNamespace, string key, int[] numbers);
}

public sealed class StreamPublisherGrain : Grain, IStreamPublisherGrain
{
    public async Task PublishAsync(string provider, string streamNamespace, string key, int first, int count)
    {
        var stream = this.GetStreamProvider(provider).GetStream<StreamTestEvent>(StreamId.Create(streamNamespace, key));
        for (var i = first; i < first + count; i++) await stream.OnNextAsync(new StreamTestEvent(i));
    }

    public Task PublishBatchAsync(string provider, string streamNamespace, string key, int[] numbers) =>
        this.GetStreamProvider(provider).GetStream<StreamTestEvent>(StreamId.Create(streamNamespace, key))
            .OnNextBatchAsync([.. numbers.Select(n => new StreamTestEvent(n))]);
}

public interface IRecordingConsumerGrain : IGrainWithStringKey;

/// <summary>Implicitly subscribed to every stream whose namespace starts with <c>test-</c>, on any provider; its key is the stream's key.</summary>
[RegexImplicitStreamSubscription("^test-")]
public sealed class RecordingConsumerGrain : Grain, IRecordingConsumerGrain, IStreamSubscriptionObserver
{
    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory)
    {
        var streamNamespace = handleFactory.StreamId.GetNamespace()!;
        await handleFactory.Create<StreamTestEvent>().ResumeAsync((item, token) => OnNextAsync(streamNamespace, item, token));
    }

    private async Task OnNextAsync(string streamNamespace, StreamTestEvent item, StreamSequenceToken? token)
    {
        var key = this.GetPrimaryKeyString();
        if (!await StreamSink.PassAsync(key)) return;
        StreamSink.Record(key, new Delivery(streamNamespace, item.Number, (RedisStreamSequenceToken)token!));
    }
}

public interface ITopicEventRecorderGrain : IGrainWithStringKey;

/// <summary>Implicitly subscribed to the topics whose namespace starts with <c>flat-</c>: records the <see cref="TopicEvent"/>s under the event's <c>key</c> field.</summary>
[RegexImplicitStreamSubscription("^flat-")]
public sealed class TopicEventRecorderGrain : Grain, ITopicEventRecorderGrain, IStreamSubscriptionObserver
{
    public static readonly ConcurrentQueue<(StreamId Stream, TopicEvent Event, RedisStreamSequenceToken Token)> Received = new();

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory)
    {
        var stream = handleFactory.StreamId;
        await handleFactory.Create<TopicEvent>().ResumeAsync((item, token) =>
        {
            Received.Enqueue((stream, item, (RedisStreamSequenceToken)token!));
            return Task.CompletedTask;
        });
    }
}

/// <summary>
/// A silo with two Redis stream providers on the test's redis-server: <see cref="StreamTestCluster.Provider"/>, uncapped,
/// and <see cref="StreamTestCluster.CappedProvider"/>, capped. Settings come from the cluster's properties.
/// </summary>
public sealed class RedisStreamsSiloConfigurator : ISiloConfigurator, IClientBuilderConfigurator
{
    public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
        clientBuilder.Services.AddClusterSerializers();

    public void Configure(ISiloBuilder siloBuilder)
    {
        var settings = siloBuilder.Configuration;
        var connection = ConfigurationOptions.Parse(settings[StreamTestCluster.ConnectionKey]!);
        connection.AbortOnConnectFail = false;
        // Commands fail at once while the server is away instead of waiting for it: an outage reaches the receiver.
        connection.BacklogPolicy = BacklogPolicy.FailFast;
        // One multiplexer per silo, as each silo process has its own; a registered factory, so the silo disposes it.
        siloBuilder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(connection));
        siloBuilder.AddMemoryGrainStorage("PubSubStore");
        siloBuilder.Services.AddClusterSerializers();

        var prefix = settings[StreamTestCluster.PrefixKey]!;
        var topics = settings[StreamTestCluster.TopicsKey]!.Split(',');
        var implicitOnly = settings[StreamTestCluster.ImplicitOnlyKey] == "true";
        siloBuilder.AddRedisStreams(StreamTestCluster.Provider, configurator =>
        {
            configurator.ConfigureRedis(options => options.Configure(o =>
            {
                o.KeyPrefix = prefix;
                o.Topics = topics;
                // A topic named unread is published on but no pulling agent reads it, whoever subscribes.
                o.ReadTopics = [.. topics.Where(t => !t.Contains("unread", StringComparison.Ordinal))];
                o.MaxLength = null;
            }));
            if (implicitOnly) configurator.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);
        });
        siloBuilder.AddRedisStreams(StreamTestCluster.CappedProvider, o =>
        {
            o.KeyPrefix = prefix + "-capped";
            o.Topics = topics;
            o.MaxLength = long.Parse(settings[StreamTestCluster.MaxLengthKey]!, CultureInfo.InvariantCulture);
        });

        if (settings[StreamTestCluster.FastFailureDetectionKey] == "true")
        {
            siloBuilder.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 1;
                o.NumVotesForDeathDeclaration = 1;
            });
        }
    }
}

/// <summary>Builds in-process test clusters whose silos use <see cref="RedisStreamsSiloConfigurator"/>.</summary>
public static class StreamTestCluster
{
    public const string Provider = "redis";
    public const string CappedProvider = "capped";
    public const int CappedLength = 100;

    internal const string ConnectionKey = "RedisStreamsTest:Connection";
    internal const string PrefixKey = "RedisStreamsTest:Prefix";
    internal const string TopicsKey = "RedisStreamsTest:Topics";
    internal const string MaxLengthKey = "RedisStreamsTest:MaxLength";
    internal const string ImplicitOnlyKey = "RedisStreamsTest:ImplicitOnly";
    internal const string FastFailureDetectionKey = "RedisStreamsTest:FastFailureDetection";

    /// <summary>Starts <paramref name="silos"/> silos, a cluster id and key prefix of their own, on <paramref name="redis"/>.</summary>
    public static async Task<TestCluster> StartAsync(RedisFixture redis, string keyPrefix, IReadOnlyList<string> topics, int silos = 1, bool forFailover = false)
    {
        var builder = new TestClusterBuilder((short)silos);
        var id = Guid.NewGuid().ToString("N");
        builder.Options.ClusterId = "streams-" + id;
        builder.Options.ServiceId = "streams-" + id;
        builder.Properties[ConnectionKey] = redis.ConnectionString;
        builder.Properties[PrefixKey] = keyPrefix;
        builder.Properties[TopicsKey] = string.Join(',', topics);
        builder.Properties[MaxLengthKey] = CappedLength.ToString(CultureInfo.InvariantCulture);
        builder.Properties[ImplicitOnlyKey] = forFailover ? "true" : "false";
        builder.Properties[FastFailureDetectionKey] = forFailover ? "true" : "false";
        builder.AddSiloBuilderConfigurator<RedisStreamsSiloConfigurator>();
        builder.AddClientBuilderConfigurator<RedisStreamsSiloConfigurator>();
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The topics that <paramref name="silo"/>'s pulling agents read now.</summary>
    public static IReadOnlyCollection<string> TopicsReadBy(SiloHandle silo, string provider = Provider) =>
        ((RedisStreamQueueAdapterFactory)((InProcessSiloHandle)silo).ServiceProvider.GetRequiredKeyedService<IQueueAdapterFactory>(provider)).ReadingTopics;
}
