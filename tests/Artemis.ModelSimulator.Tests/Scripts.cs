namespace Artemis.ModelSimulator.Tests;

/// <summary>Scripts more than one test class uses.</summary>
public static class Scripts
{
    /// <summary>The agent loop in two steps: a tool call to read a file, then an answer once the tool result is in.</summary>
    public const string ReadThenAnswer = """
        {
          "models": ["gpt-4o-mini"],
          "steps": [
            {
              "name": "read the file first",
              "match": { "lastRole": "user", "lastContentContains": "add a test" },
              "reply": {
                "content": null,
                "toolCalls": [ { "id": "call_1", "name": "files-read_file", "arguments": { "path": "src/app.py" } } ],
                "usage": { "promptTokens": 120, "cachedTokens": 20, "completionTokens": 14 }
              }
            },
            {
              "name": "answer after reading",
              "match": { "lastRole": "tool", "lastContentContains": "def add" },
              "reply": { "content": "Done: the test is added." }
            }
          ]
        }
        """;
}
