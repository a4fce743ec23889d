using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Validation;
using Cluster.Grains.Interfaces.Workflows;

namespace Cluster.UnitTests.Validation;

/// <summary>What a step with dependencies may leave out: the required fields of its payload, which its dependencies' results bring as <c>inputs</c>.</summary>
public sealed class WorkflowDefinitionReaderTests
{
    private static (WorkflowDefinition? Definition, string? Problem) Read(string steps, JobTypeCatalog? catalog = null)
    {
        var body = new JsonObject { ["name"] = "pipeline", ["steps"] = JsonNode.Parse(steps) };
        var definition = WorkflowDefinitionReader.Read(body, catalog ?? JobTypeCatalog.Default, WorkflowLimits.DefaultMaxSteps, out var problem);
        return (definition, problem);
    }

    [Test]
    public void Seed_001s_sequential_workflow_is_accepted_though_its_img2img_step_names_no_image_url()
    {
        var (definition, problem) = Read("""
            [{"type":"text-to-image","prompt":"Base image"},
             {"type":"img2img","prompt":"Enhanced image","depends_on":[0]},
             {"type":"upscale","scale_factor":2,"depends_on":[1]}]
            """);

        Assert.That(problem, Is.Null);
        Assert.That(definition!.Steps[1].Job.Type, Is.EqualTo("img2img"));
        Assert.That(definition.Steps[1].Job.Payload.ContainsKey("image_url"), Is.False, "the payload is kept as given; inputs come at promotion");
        Assert.That(definition.Steps[1].DependsOn, Is.EqualTo(new[] { 0 }));
    }

    [Test]
    public void A_step_without_dependencies_still_needs_its_required_fields()
    {
        var (definition, problem) = Read("""[{"type":"img2img","prompt":"Enhanced image"}]""");

        Assert.That(definition, Is.Null);
        Assert.That(problem, Is.EqualTo("Validation failed: steps[0]: Validation failed for img2img: 'image_url' is required"));
    }

    [TestCase("""{"type":"img2img","image_url":5,"depends_on":0}""", "'image_url' must be string")]
    [TestCase("""{"type":"img2img","strength":3,"depends_on":0}""", "'strength' must be at most 1")]
    [TestCase("""{"type":"no-such-type","depends_on":0}""", "unknown job type 'no-such-type'")]
    [TestCase("""{"depends_on":0}""", "'type' is required")]
    public void What_a_dependent_step_does_give_is_checked_all_the_same(string step, string message)
    {
        var (definition, problem) = Read($$"""[{"type":"text-to-image","prompt":"x"}, {{step}}]""");

        Assert.That(definition, Is.Null);
        Assert.That(problem, Does.StartWith("Validation failed: steps[1]: ").And.Contain(message));
    }

    [Test]
    public void Only_the_top_level_required_fields_may_come_from_inputs()
    {
        var catalog = JobTypeCatalog.Default.With([new JobType("render", "test", JsonNode.Parse("""
            {"type":"object","required":["scene"],"properties":{
              "scene":{"type":"string"},
              "camera":{"type":"object","required":["lens"],"properties":{"lens":{"type":"number"}}}}}
            """)!.AsObject())]);

        var (leftOut, leftOutProblem) = Read("""[{"type":"render","scene":"a"},{"type":"render","depends_on":0}]""", catalog);
        var (nested, nestedProblem) = Read("""[{"type":"render","scene":"a"},{"type":"render","camera":{},"depends_on":0}]""", catalog);

        Assert.That(leftOutProblem, Is.Null);
        Assert.That(leftOut, Is.Not.Null);
        Assert.That(nested, Is.Null, "an object the step gives must be whole: inputs do not reach inside it");
        Assert.That(nestedProblem, Does.Contain("'camera.lens' is required"));
    }
}
