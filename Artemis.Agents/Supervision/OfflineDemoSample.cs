using Artemis.Agents.Cards;
using Artemis.Agents.Files;
using Artemis.Agents.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Artemis.Agents.Supervision;

/// <summary>
/// In the offline demo (<c>Artemis:OfflineDemo=true</c>, set by the AppHost when the model is the simulator), the
/// first start of an empty database writes a small Python project with a bug under
/// <c>Artemis:Workspace:Root/samples/calculator</c> and queues a card to fix it. The simulator's offline-demo script
/// has two developers attempt it, one correctly and one by weakening the tests, so the arbiter's choice is real.
/// </summary>
public sealed class OfflineDemoSample(
    IConfiguration configuration,
    IOptions<WorkspaceOptions> workspace,
    CardStore cards,
    CardValidator validator,
    NpgsqlDataSource dataSource,
    DatabaseMigrator migrator,
    ILogger<OfflineDemoSample> logger) : BackgroundService
{
    public const string Key = "Artemis:OfflineDemo";
    public const string Title = "Fix add() in the calculator sample";
    public const string TestCommand = "python3 -m unittest -v";

    public const string Description =
        "calc.py's add() gives wrong answers: make it return the sum of its two arguments, so that every test in test_calc.py passes.";

    public const string BuggyCalculator = """"
        """A tiny calculator: the Artemis offline demo's sample project."""


        def add(a, b):
            """Return the sum of a and b."""
            return a - b


        def multiply(a, b):
            """Return the product of a and b."""
            return a * b

        """";

    public const string Tests = """
        import unittest

        from calc import add, multiply


        class CalculatorTests(unittest.TestCase):
            def test_add_positive(self):
                self.assertEqual(add(2, 3), 5)

            def test_add_negative(self):
                self.assertEqual(add(-2, -3), -5)

            def test_add_mixed(self):
                self.assertEqual(add(-2, 5), 3)

            def test_multiply(self):
                self.assertEqual(multiply(4, 5), 20)


        if __name__ == "__main__":
            unittest.main()

        """;

    /// <summary>Writes the sample project into <paramref name="folder"/> (made if missing).</summary>
    public static void WriteProject(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Join(folder, "calc.py"), BuggyCalculator);
        File.WriteAllText(Path.Join(folder, "test_calc.py"), Tests);
        File.WriteAllText(Path.Join(folder, "README.md"), "# Calculator\n\nThe Artemis offline demo's sample project. Run the tests with `python3 -m unittest -v`.\n");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!configuration.GetValue(Key, false) || string.IsNullOrWhiteSpace(workspace.Value.Root))
        {
            return;
        }

        await migrator.Completed.WaitAsync(stoppingToken);
        await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
        await using var transaction = await connection.BeginTransactionAsync(stoppingToken);
        // One replica seeds: the others wait on the lock, then find the card.
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('artemis.offline-demo'))", connection, transaction))
        {
            await lockCommand.ExecuteNonQueryAsync(stoppingToken);
        }

        await using (var count = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM cards)", connection, transaction))
        {
            if ((bool)(await count.ExecuteScalarAsync(stoppingToken))!)
            {
                return;
            }
        }

        var folder = Path.Join(workspace.Value.Root, "samples", "calculator");
        WriteProject(folder);
        var (card, errors) = validator.Validate(new CreateCardRequest(Title, Description, folder, TestCommand, null));
        if (card is null)
        {
            throw new InvalidOperationException("The offline demo's sample card is invalid: " + string.Join("; ", errors.Select(pair => $"{pair.Key}: {string.Join(", ", pair.Value)}")));
        }

        var created = await cards.CreateAsync(card, stoppingToken);
        await transaction.CommitAsync(stoppingToken);
        SupervisionLog.SampleCreated(logger, created.Id, folder);
    }
}
