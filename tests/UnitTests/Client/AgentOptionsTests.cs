using Cluster.Client.Agent;
using Cluster.Client.Cli;

namespace Cluster.UnitTests.Client;

public class AgentOptionsTests
{
    private static AgentSettings Resolve(CliTestEnvironment test, params string[] args) =>
        AgentCommand.ResolveFromCommandLine(["--api-key", "k", .. args], test.Environment);

    [Test]
    public void NUM_GPUS_decides_how_many_workers_run_when_no_gpus_option_is_given()
    {
        using var test = new CliTestEnvironment(("NUM_GPUS", "4"), ("MACHINE_ID", "gpu-box-1"));

        var settings = Resolve(test);

        Assert.That(settings.GpuCount, Is.EqualTo(4));
        Assert.That(settings.WorkerIds, Is.EqualTo(new[] { "gpu-box-1-gpu0", "gpu-box-1-gpu1", "gpu-box-1-gpu2", "gpu-box-1-gpu3" }));
    }

    [Test]
    public void The_gpus_option_wins_over_NUM_GPUS()
    {
        using var test = new CliTestEnvironment(("NUM_GPUS", "4"));

        Assert.That(Resolve(test, "--machine-id", "m1", "--gpus", "8").GpuCount, Is.EqualTo(8));
    }

    [Test]
    public void Without_gpus_or_NUM_GPUS_one_worker_runs()
    {
        using var test = new CliTestEnvironment();

        Assert.That(Resolve(test, "--machine-id", "m1").WorkerIds, Is.EqualTo(new[] { "m1-gpu0" }));
    }

    [TestCase("0")]
    [TestCase("four")]
    [TestCase("65")]
    public void A_NUM_GPUS_that_is_not_a_sensible_count_is_refused(string value)
    {
        using var test = new CliTestEnvironment(("NUM_GPUS", value));

        Assert.That(() => Resolve(test, "--machine-id", "m1"), Throws.InstanceOf<AgentConfigurationException>());
    }

    [Test]
    public void MACHINE_ID_names_the_machine_when_no_option_is_given()
    {
        using var test = new CliTestEnvironment(("MACHINE_ID", "rack-7"));

        Assert.That(Resolve(test).MachineId, Is.EqualTo("rack-7"));
    }

    [Test]
    public void The_silo_and_the_key_default_to_CLUSTER_URL_and_CLUSTER_API_KEY()
    {
        using var test = new CliTestEnvironment(("CLUSTER_URL", "http://silo-1:5000"), ("CLUSTER_API_KEY", "from-env"));

        var settings = AgentCommand.ResolveFromCommandLine(["--machine-id", "m1"], test.Environment);

        Assert.That(settings.Silo, Is.EqualTo(new Uri("http://silo-1:5000")));
        Assert.That(settings.ApiKey, Is.EqualTo("from-env"));
    }

    [Test]
    public void Failover_silos_are_tried_after_the_silo_in_the_order_given()
    {
        using var test = new CliTestEnvironment();

        var settings = Resolve(test, "--machine-id", "m1", "--silo", "http://silo-1:5000", "--failover-silo", "http://silo-2:5000,http://silo-3:5000");

        Assert.That(settings.Silos, Is.EqualTo(new[] { new Uri("http://silo-1:5000"), new Uri("http://silo-2:5000"), new Uri("http://silo-3:5000") }));
        Assert.That(() => Resolve(test, "--machine-id", "m1", "--failover-silo", "silo-2:5000"), Throws.InstanceOf<AgentConfigurationException>());
    }

    [Test]
    public void The_key_falls_back_to_the_silos_bootstrap_key_file()
    {
        using var test = new CliTestEnvironment();
        Directory.CreateDirectory(Path.Combine(test.WorkingDirectory, "data"));
        File.WriteAllText(Path.Combine(test.WorkingDirectory, "data", "bootstrap-api-key"), "bootstrap-key\n");

        Assert.That(AgentCommand.ResolveFromCommandLine(["--machine-id", "m1"], test.Environment).ApiKey, Is.EqualTo("bootstrap-key"));
    }

    [Test]
    public void Capabilities_and_model_types_are_comma_separated_lists()
    {
        using var test = new CliTestEnvironment();

        var settings = Resolve(test, "--machine-id", "m1", "--capabilities", "text-to-image,upscale", "--model-types", "sdxl", "--pool", "heavy", "--gpu-memory", "24");

        Assert.That(settings.Capabilities, Is.EqualTo(new[] { "text-to-image", "upscale" }));
        Assert.That(settings.ModelTypes, Is.EqualTo(new[] { "sdxl" }));
        Assert.That(settings.Pool, Is.EqualTo("heavy"));
        Assert.That(settings.GpuMemory, Is.EqualTo(24));
    }

    [TestCase("--machine-id", "unknown")]
    [TestCase("--machine-id", "UNKNOWN")]
    public async Task The_machine_id_unknown_is_refused_with_exit_code_2(string option, string value)
    {
        using var test = new CliTestEnvironment();

        var exitCode = await test.RunAsync("agent", "--api-key", "k", "--silo", "http://127.0.0.1:9", option, value);

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(test.Error.ToString(), Does.Contain("\"unknown\" is refused"));
        Assert.That(test.Out.ToString(), Does.Not.Contain("starting"), "nothing may start before the machine id is known");
    }

    [Test]
    public async Task A_MACHINE_ID_of_unknown_is_refused_with_exit_code_2()
    {
        using var test = new CliTestEnvironment(("MACHINE_ID", "unknown"));

        Assert.That(await test.RunAsync("agent", "--api-key", "k", "--silo", "http://127.0.0.1:9"), Is.EqualTo(2));
    }

    [Test]
    public async Task A_missing_machine_id_is_refused_with_exit_code_2()
    {
        using var test = new CliTestEnvironment();

        var exitCode = await test.RunAsync("agent", "--api-key", "k", "--silo", "http://127.0.0.1:9");

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(test.Error.ToString(), Does.Contain("No machine id"));
    }

    [Test]
    public async Task The_command_connector_without_a_command_is_refused_with_exit_code_2()
    {
        using var test = new CliTestEnvironment();

        var exitCode = await test.RunAsync("agent", "--api-key", "k", "--machine-id", "m1", "--connector", "command");

        Assert.That(exitCode, Is.EqualTo(2));
        Assert.That(test.Error.ToString(), Does.Contain("--command"));
    }
}
