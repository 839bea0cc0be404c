using Artemis.Agents.Costs;
using Microsoft.Extensions.Options;

namespace Artemis.Agents.Cards;

/// <summary>
/// Checks a create request field by field and reports every bad field at once, keyed by its JSON name, so the web
/// form can mark each one.
/// </summary>
public sealed class CardValidator(IOptions<BudgetOptions> budget)
{
    public const int MaxTitleLength = 200;
    public const int MaxDescriptionLength = 20_000;
    public const int MaxTestCommandLength = 4_000;

    public (NewCard? Card, Dictionary<string, string[]> Errors) Validate(CreateCardRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);

        var title = request.Title?.Trim() ?? "";
        if (title.Length == 0)
        {
            errors["title"] = ["is required"];
        }
        else if (title.Length > MaxTitleLength)
        {
            errors["title"] = [$"must be at most {MaxTitleLength} characters, has {title.Length}"];
        }
        else if (title.Any(char.IsControl))
        {
            errors["title"] = ["must be one line without control characters"];
        }

        var description = request.Description?.Trim() ?? "";
        if (description.Length > MaxDescriptionLength)
        {
            errors["description"] = [$"must be at most {MaxDescriptionLength} characters, has {description.Length}"];
        }
        else if (description.Contains('\0', StringComparison.Ordinal))
        {
            errors["description"] = ["must not contain NUL characters"];
        }

        var (workspace, kind, workspaceError) = CardWorkspace.Check(request.Workspace);
        if (workspaceError is not null)
        {
            errors["workspace"] = [workspaceError];
        }

        var testCommand = request.TestCommand?.Trim() ?? "";
        if (testCommand.Length == 0)
        {
            errors["testCommand"] = ["is required: the command that runs the acceptance tests in the workspace, e.g. 'dotnet test'"];
        }
        else if (testCommand.Length > MaxTestCommandLength)
        {
            errors["testCommand"] = [$"must be at most {MaxTestCommandLength} characters, has {testCommand.Length}"];
        }
        else if (testCommand.Contains('\0', StringComparison.Ordinal))
        {
            errors["testCommand"] = ["must not contain NUL characters"];
        }

        // A card may ask for less than the per-card budget, never more: Artemis:Budget:PerCardUsd is the operator's
        // ceiling for any one card. Omitted, the ceiling applies.
        var ceiling = budget.Value.PerCardUsd;
        if (request.BudgetUsd is { } usd && usd <= 0)
        {
            errors["budgetUsd"] = [$"must be > 0, was {usd}"];
        }
        else if (request.BudgetUsd is { } over && over > ceiling)
        {
            errors["budgetUsd"] = [$"must be at most {ceiling} (Artemis:Budget:PerCardUsd), was {over}"];
        }

        return errors.Count > 0
            ? (null, errors)
            : (new NewCard(title, description, workspace!, kind!, testCommand, request.BudgetUsd), errors);
    }
}
