using System.Text.Json;
using Microsoft.Playwright;

namespace Cluster.BrowserTests;

/// <summary>
/// The dashboard's <c>socket.js</c> in the browser, against a scripted stand-in for the gateway, for the
/// orders of frames a real silo produces only by chance: when views reload after subscribing.
/// </summary>
public sealed class GatewaySocketTests : DashboardTest
{
    /// <summary>
    /// Replaces WebSocket with a fake whose frames the script delivers by hand, imports the silo's own
    /// socket.js, and runs <paramref name="scenario"/>(socket, gateway), returning what it returns.
    /// </summary>
    private async Task<JsonElement> RunAsync(string scenario)
    {
        await StartSiloAsync();
        var context = await Chromium.Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Silo.BaseAddress.ToString() });
        try
        {
            var page = await context.NewPageAsync();
            await page.GotoAsync("/health/live");
            return await page.EvaluateAsync<JsonElement>($$"""
                async () => {
                  class FakeWebSocket {
                    static OPEN = 1;
                    static current = null;
                    readyState = 1;
                    sent = [];
                    constructor() { FakeWebSocket.current = this; }
                    send(text) { this.sent.push(JSON.parse(text)); }
                    close() {}
                  }
                  window.WebSocket = FakeWebSocket;
                  const { GatewaySocket } = await import('/socket.js');
                  const socket = new GatewaySocket({ url: 'ws://stand-in/ws', onState: () => {} });
                  socket.start();
                  const ws = FakeWebSocket.current;
                  const gateway = {
                    deliver: (frame) => ws.onmessage({ data: JSON.stringify(frame) }),
                    subscribes: () => ws.sent.filter((f) => f.type === 'subscribe'),
                    answer(subscribe) { this.deliver({ type: 'subscribed', ack: subscribe.id, subscription: 'sub-' + subscribe.id }); },
                  };
                  gateway.deliver({ type: 'welcome', heartbeat_ms: 60000 });
                  const resyncs = [];
                  const view = (name) => ({ onEvent() {}, onResync: () => resyncs.push(name) });
                  // Resolves when `name` has resynced, or after 10 s so that a missing resync fails the assertion, not the run.
                  const resynced = (name) => new Promise((resolve) => {
                    const deadline = Date.now() + 10000;
                    (function poll() {
                      if (resyncs.includes(name) || Date.now() > deadline) resolve(resyncs.includes(name));
                      else setTimeout(poll, 20);
                    })();
                  });
                  return await ({{scenario}})({ socket, gateway, view, resyncs, resynced });
                }
                """);
        }
        finally
        {
            await context.CloseAsync();
        }
    }

    [Test]
    public async Task A_view_subscribed_to_three_topics_resyncs_once_when_the_last_is_answered()
    {
        var result = await RunAsync("""
            async ({ socket, gateway, view, resyncs }) => {
              const machines = view('machines');
              for (const topic of ['workers', 'jobs', 'machines']) socket.subscribe(topic, {}, machines);
              const [workers, jobs, machinesTopic] = gateway.subscribes();
              gateway.answer(workers);
              gateway.answer(jobs);
              const beforeLast = [...resyncs];
              gateway.answer(machinesTopic);
              return { beforeLast, afterLast: [...resyncs] };
            }
            """);

        Assert.That(result.GetProperty("beforeLast").GetArrayLength(), Is.Zero);
        Assert.That(result.GetProperty("afterLast").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "machines" }));
    }

    [Test]
    public async Task A_view_that_unsubscribed_while_its_subscribe_was_in_flight_is_not_told_to_resync()
    {
        var result = await RunAsync("""
            async ({ socket, gateway, view, resyncs }) => {
              const leaving = socket.subscribe('workflows', {}, view('leaving'));
              socket.subscribe('silos', {}, view('staying'));
              const [workflows, silos] = gateway.subscribes();
              gateway.answer(workflows);
              leaving();
              gateway.answer(silos);
              return { resyncs };
            }
            """);

        Assert.That(result.GetProperty("resyncs").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "staying" }));
    }

    [Test]
    public async Task A_subscribe_the_gateway_never_answers_does_not_hold_back_the_others_resyncs()
    {
        var result = await RunAsync("""
            async ({ socket, gateway, view, resynced }) => {
              socket.subscribe('jobs', {}, view('jobs'));
              socket.subscribe('machines', { machine_ids: ['m'.repeat(70000)] }, view('huge filter'));
              const [jobs] = gateway.subscribes();
              gateway.answer(jobs);
              // What a silo answers a frame over its size limit: an error it cannot tie to the command.
              gateway.deliver({ type: 'error', error: { code: 'FRAME_TOO_LARGE', message: 'too large' } });
              return { jobsResynced: await resynced('jobs') };
            }
            """);

        Assert.That(result.GetProperty("jobsResynced").GetBoolean(), Is.True);
    }
}
