// Renders an Adaptive Card with the official renderer into a Teams-sized bubble and measures it, so the
// Python test can assert what a person would see: parse and validation problems, truncated action titles,
// horizontal overflow and height. Loaded after adaptivecards.min.js and markdown-it.min.js.
window.renderCard = function (payload, hostConfig, name) {
  const AC = window.AdaptiveCards;
  const card = new AC.AdaptiveCard();
  card.hostConfig = new AC.HostConfig(hostConfig);
  const context = new AC.SerializationContext();
  card.parse(payload, context);
  const problems = [];
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    problems.push("parse: " + AC.ValidationEvent[e.event] + ": " + e.message);
  }
  const validation = card.validateProperties();
  for (const e of validation.validationEvents) {
    problems.push("validate: " + AC.ValidationEvent[e.event] + ": " + e.message);
  }
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.id = name;
  document.body.appendChild(bubble);
  const rendered = card.render();
  if (!rendered) {
    problems.push("render: nothing rendered");
    return {problems, buttons: [], width: 0, scrollWidth: 0, height: 0, overflowing: []};
  }
  bubble.appendChild(rendered);
  const buttons = Array.from(rendered.querySelectorAll("button")).map((b) => {
    const title = b.querySelector("div") || b;
    return {title: b.getAttribute("aria-label") || b.title || title.innerText, text: title.innerText,
            width: b.getBoundingClientRect().width, clientWidth: title.clientWidth, scrollWidth: title.scrollWidth};
  });
  const right = bubble.getBoundingClientRect().right;
  const overflowing = Array.from(rendered.querySelectorAll("*"))
    .filter((el) => el.getBoundingClientRect().right > right + 0.5 || el.scrollWidth > el.clientWidth + 1
            && getComputedStyle(el).overflowX !== "visible" && el.tagName !== "BUTTON" && el.parentElement.tagName !== "BUTTON")
    .map((el) => el.className + ": " + (el.innerText || "").slice(0, 60));
  return {problems, buttons, overflowing, width: bubble.getBoundingClientRect().width,
          scrollWidth: rendered.scrollWidth, height: rendered.getBoundingClientRect().height};
};
