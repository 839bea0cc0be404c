using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Artemis.Agents.Messaging;

namespace Artemis.Agents.Tests.Cards;

[Collection(CardsAppGroup.Name)]
public sealed class CardsApiTests(CardsAppFixture app)
{
    private HttpClient Client => app.Client;

    private object ValidCard(string? description = null) => new
    {
        title = "Add a greeting",
        description = description ?? "make hello() return 'hello'",
        workspace = app.NewWorkspace(),
        testCommand = "python3 -m pytest -q",
        budgetUsd = 1.5m,
    };

    private async Task<JsonObject> CreateAsync(object body)
    {
        using var response = await Client.PostAsJsonAsync("api/cards", body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    [Fact]
    public async Task A_created_card_is_queued_and_shown_by_get_and_by_list()
    {
        using var response = await Client.PostAsJsonAsync("api/cards", ValidCard());
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var card = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        var id = (string)card["id"]!;
        Assert.Matches("^[0-9a-z]{12}$", id);
        Assert.Equal($"/api/cards/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("Queued", (string?)card["stage"]);
        Assert.Equal("folder", (string?)card["workspaceKind"]);
        Assert.Equal(1.5m, (decimal)card["budgetUsd"]!);
        Assert.Null(card["finishedAt"]);

        var details = (await Client.GetFromJsonAsync<JsonObject>($"api/cards/{id}"))!;
        Assert.Equal(id, (string?)details["card"]!["id"]);
        Assert.Equal("Add a greeting", (string?)details["card"]!["title"]);
        Assert.Empty(details["attempts"]!.AsArray());
        var events = details["events"]!;
        Assert.Equal(1, (long)events["count"]!);
        Assert.Equal(1, (long)events["byKind"]![EventKinds.CardCreated]!);
        var created = events["recent"]!.AsArray().Single()!;
        Assert.Equal(EventKinds.CardCreated, (string?)created["kind"]);
        Assert.Equal((long)created["id"]!, (long)events["lastEventId"]!);
        Assert.Equal("python3 -m pytest -q", (string?)created["payload"]!["testCommand"]);

        var queued = (await Client.GetFromJsonAsync<JsonArray>("api/cards?stage=queued&limit=1000"))!;
        Assert.Contains(queued, item => (string?)item!["id"] == id);
        Assert.All(queued, item => Assert.Equal("Queued", (string?)item!["stage"]));
        var done = (await Client.GetFromJsonAsync<JsonArray>("api/cards?stage=Done&limit=1000"))!;
        Assert.DoesNotContain(done, item => (string?)item!["id"] == id);
    }

    [Fact]
    public async Task Workspaces_are_stored_by_real_path_and_recognised_as_folder_git_or_bare_repository()
    {
        var working = app.NewWorkspace();
        Directory.CreateDirectory(Path.Combine(working, ".git"));
        var bare = app.NewWorkspace();
        File.WriteAllText(Path.Combine(bare, "HEAD"), "ref: refs/heads/main\n");
        Directory.CreateDirectory(Path.Combine(bare, "objects"));
        Directory.CreateDirectory(Path.Combine(bare, "refs"));
        var folder = app.NewWorkspace();
        var link = Path.Combine(app.Scratch, $"link-{Guid.NewGuid():N}");
        Directory.CreateSymbolicLink(link, folder);

        Assert.Equal("git", (string?)(await CreateAsync(new { title = "t", workspace = working, testCommand = "make test" }))["workspaceKind"]);
        Assert.Equal("git-bare", (string?)(await CreateAsync(new { title = "t", workspace = bare, testCommand = "make test" }))["workspaceKind"]);
        var linked = await CreateAsync(new { title = "t", workspace = link + "/", testCommand = "make test" });
        Assert.Equal("folder", (string?)linked["workspaceKind"]);
        Assert.Equal(folder, (string?)linked["workspace"]);
        Assert.Null(linked["budgetUsd"]);
    }

    [Fact]
    public async Task Requests_without_the_right_api_key_are_refused_and_create_nothing()
    {
        var marker = Guid.NewGuid().ToString("N");
        using var anonymous = app.NewClient(apiKey: null);
        using var wrong = app.NewClient(apiKey: "not-the-key-0123456789");

        using var list = await anonymous.GetAsync("api/cards");
        using var create = await wrong.PostAsJsonAsync("api/cards", ValidCard(marker));

        Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, create.StatusCode);
        Assert.Equal("application/problem+json", create.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM cards WHERE description = $1", marker));
    }

    public static TheoryData<string, string> BadCards => new()
    {
        { "workspace", """{"title":"t","workspace":"/no/such/folder/anywhere","testCommand":"make test"}""" },
        { "workspace", """{"title":"t","workspace":"relative/path","testCommand":"make test"}""" },
        { "workspace", """{"title":"t","testCommand":"make test"}""" },
        { "workspace", """{"title":"t","workspace":"/etc","testCommand":"make test"}""" },
        { "workspace", """{"title":"t","workspace":"/proc/self","testCommand":"make test"}""" },
        { "workspace", """{"title":"t","workspace":"/dev/null","testCommand":"make test"}""" },
        { "testCommand", """{"title":"t","workspace":"{ws}","testCommand":""}""" },
        { "testCommand", """{"title":"t","workspace":"{ws}","testCommand":"   "}""" },
        { "budgetUsd", """{"title":"t","workspace":"{ws}","testCommand":"make test","budgetUsd":-1}""" },
        { "budgetUsd", """{"title":"t","workspace":"{ws}","testCommand":"make test","budgetUsd":0}""" },
        { "budgetUsd", """{"title":"t","workspace":"{ws}","testCommand":"make test","budgetUsd":5.01}""" },
        { "title", """{"title":"","workspace":"{ws}","testCommand":"make test"}""" },
        { "title", """{"workspace":"{ws}","testCommand":"make test"}""" },
        { "title", $$"""{"title":"{{new string('x', 201)}}","workspace":"{ws}","testCommand":"make test"}""" },
    };

    [Theory]
    [MemberData(nameof(BadCards))]
    public async Task An_invalid_card_is_refused_naming_the_field_and_nothing_is_stored(string field, string json)
    {
        var marker = Guid.NewGuid().ToString("N");
        var body = JsonNode.Parse(json.Replace("{ws}", app.NewWorkspace(), StringComparison.Ordinal))!.AsObject();
        body["description"] = marker;
        var cardsBefore = await app.ScalarAsync("SELECT count(*) FROM cards");
        var eventsBefore = await app.ScalarAsync("SELECT count(*) FROM events WHERE kind = $1", EventKinds.CardCreated);

        using var response = await Client.PostAsJsonAsync("api/cards", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(400, (int)problem["status"]!);
        var errors = problem["errors"]!.AsObject();
        Assert.Equal([field], errors.Select(error => error.Key));
        Assert.NotEmpty((string)errors[field]![0]!);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM cards WHERE description = $1", marker));
        Assert.Equal(cardsBefore, await app.ScalarAsync("SELECT count(*) FROM cards"));
        Assert.Equal(eventsBefore, await app.ScalarAsync("SELECT count(*) FROM events WHERE kind = $1", EventKinds.CardCreated));
    }

    [Fact]
    public async Task A_card_bad_in_every_field_is_refused_with_every_field_named()
    {
        using var response = await Client.PostAsJsonAsync("api/cards", new { title = " ", workspace = "/missing", testCommand = "", budgetUsd = -5 });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject();
        Assert.Equal(["budgetUsd", "testCommand", "title", "workspace"], errors.Select(error => error.Key).Order(StringComparer.Ordinal));
        Assert.Contains("-5", (string)errors["budgetUsd"]![0]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_an_unfinished_card_makes_it_cancelled_and_a_second_cancel_is_a_conflict()
    {
        var id = (string)(await CreateAsync(ValidCard()))["id"]!;
        await app.ExecuteAsync("UPDATE cards SET stage = 'Developing' WHERE id = $1", id);

        using var cancel = await Client.PostAsync($"api/cards/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var card = (await cancel.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("Cancelled", (string?)card["stage"]);
        Assert.NotNull(card["finishedAt"]);

        var details = (await Client.GetFromJsonAsync<JsonObject>($"api/cards/{id}"))!;
        var last = details["events"]!["recent"]!.AsArray().Last()!;
        Assert.Equal(EventKinds.CardCancelled, (string?)last["kind"]);
        Assert.Equal("Developing", (string?)last["payload"]!["from"]);
        Assert.Equal("Cancelled", (string?)last["payload"]!["to"]);

        using var again = await Client.PostAsync($"api/cards/{id}/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(1, await app.ScalarAsync("SELECT count(*) FROM events WHERE card_id = $1 AND kind = $2", id, EventKinds.CardCancelled));
    }

    [Theory]
    [InlineData("Done")]
    [InlineData("Failed")]
    public async Task Cancelling_a_finished_card_is_a_conflict_and_leaves_it_as_it_was(string stage)
    {
        var id = (string)(await CreateAsync(ValidCard()))["id"]!;
        await app.ExecuteAsync("UPDATE cards SET stage = $2, finished_at = now() WHERE id = $1", id, stage);

        using var response = await Client.PostAsync($"api/cards/{id}/cancel", null);

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(409, (int)problem["status"]!);
        Assert.Contains(stage, (string)problem["detail"]!, StringComparison.Ordinal);
        var card = (await Client.GetFromJsonAsync<JsonObject>($"api/cards/{id}"))!["card"]!;
        Assert.Equal(stage, (string?)card["stage"]);
        Assert.Equal(0, await app.ScalarAsync("SELECT count(*) FROM events WHERE card_id = $1 AND kind = $2", id, EventKinds.CardCancelled));
    }

    [Theory]
    [InlineData("GET", "api/cards/{id}")]
    [InlineData("POST", "api/cards/{id}/cancel")]
    [InlineData("GET", "api/cards/{id}/events")]
    public async Task An_unknown_card_is_a_404_problem(string method, string route)
    {
        foreach (var id in new[] { "zzzzzzzzzzzz", "Not-An-Id!" })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), route.Replace("{id}", Uri.EscapeDataString(id), StringComparison.Ordinal));
            using var response = await Client.SendAsync(request);

            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
            Assert.Equal(404, (int)problem["status"]!);
        }
    }

    [Fact]
    public async Task A_bad_stage_filter_or_limit_is_refused_naming_it()
    {
        using var stage = await Client.GetAsync("api/cards?stage=Sleeping");
        using var limit = await Client.GetAsync("api/cards?limit=0");

        Assert.Equal(HttpStatusCode.BadRequest, stage.StatusCode);
        Assert.True((await stage.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().ContainsKey("stage"));
        Assert.Equal(HttpStatusCode.BadRequest, limit.StatusCode);
        Assert.True((await limit.Content.ReadFromJsonAsync<JsonObject>())!["errors"]!.AsObject().ContainsKey("limit"));
    }
}
